// amqp091-go (RabbitMQ's Go client) end to end: publish, consume and ack (a nack requeues,
// redelivered), publisher confirms (acks, and a nack from a full queue), a mandatory publish
// returned, direct reply-to RPC, channel and connection errors with their reply texts,
// prefetch (basic.qos) respected, the counts of a passive queue declare, basic.get, purge and
// delete, header field values of every type, transactions, a consumer cancelled by the
// server, exclusive queues and consumers, an exchange-to-exchange binding to a headers
// exchange, dead-lettering (x-death) and basic.recover. Prints one JSON object per
// scenario, one a line; tests/clients/test_go_amqp091.py checks them.
//
//	amqp_e2e AMQP_URL NAME_PREFIX
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const wait = 10 * time.Second // the bound on every wait

type report map[string]interface{}

var out = json.NewEncoder(os.Stdout)

func emit(scenario string, r report) {
	r["scenario"] = scenario
	must(out.Encode(r))
}

func must(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "amqp_e2e: "+format+"\n", args...)
	os.Exit(1)
}

func channel(conn *amqp.Connection) *amqp.Channel {
	ch, err := conn.Channel()
	must(err)
	return ch
}

// next is the next delivery, or a failure after wait.
func next(deliveries <-chan amqp.Delivery, what string) amqp.Delivery {
	select {
	case d, ok := <-deliveries:
		if !ok {
			fail("%s: the deliveries ended", what)
		}
		return d
	case <-time.After(wait):
		fail("%s: no delivery in %s", what, wait)
	}
	return amqp.Delivery{}
}

// errorOf describes an *amqp.Error as the client reports it.
func errorOf(err error) report {
	amqpErr, ok := err.(*amqp.Error)
	if !ok {
		return report{"error": fmt.Sprintf("%T: %v", err, err)}
	}
	return report{"code": amqpErr.Code, "reason": amqpErr.Reason, "server": amqpErr.Server,
		"recover": amqpErr.Recover}
}

func closed(notify chan *amqp.Error, what string) report {
	select {
	case err := <-notify:
		if err == nil {
			return report{"closed": "without error"}
		}
		return errorOf(err)
	case <-time.After(wait):
		fail("%s: no close in %s", what, wait)
	}
	return nil
}

func declare(ch *amqp.Channel, name string, args amqp.Table) {
	_, err := ch.QueueDeclare(name, false, false, false, false, args)
	must(err)
}

func counts(ch *amqp.Channel, name string) []int {
	q, err := ch.QueueDeclarePassive(name, false, false, false, false, nil)
	must(err)
	return []int{q.Messages, q.Consumers}
}

func publishConsumeAck(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	queue := prefix + ".work"
	declare(ch, queue, nil)
	for n := 0; n < 3; n++ {
		must(ch.Publish("", queue, false, false, amqp.Publishing{
			Body: []byte(fmt.Sprintf("m%d", n)), ContentType: "text/plain",
			DeliveryMode: amqp.Persistent, Priority: 3, CorrelationId: fmt.Sprintf("c%d", n),
			MessageId: fmt.Sprintf("id%d", n), Type: "job", AppId: "go",
			Timestamp: time.Unix(1700000000+int64(n), 0), Expiration: "60000",
			Headers: amqp.Table{"n": int32(n)}}))
	}
	deliveries, err := ch.Consume(queue, "go-consumer", false, false, false, false, nil)
	must(err)
	var received []report
	for n := 0; n < 3; n++ {
		d := next(deliveries, "publish-consume-ack")
		received = append(received, report{
			"body": string(d.Body), "tag": d.DeliveryTag, "redelivered": d.Redelivered,
			"exchange": d.Exchange, "routingKey": d.RoutingKey, "consumerTag": d.ConsumerTag,
			"contentType": d.ContentType, "deliveryMode": d.DeliveryMode,
			"priority": d.Priority, "correlationId": d.CorrelationId,
			"messageId": d.MessageId, "type": d.Type, "appId": d.AppId,
			"timestamp": d.Timestamp.Unix(), "expiration": d.Expiration, "headers": d.Headers})
		if n == 0 {
			must(d.Nack(false, true)) // back to the head of the queue, redelivered
			again := next(deliveries, "publish-consume-ack (requeued)")
			received = append(received, report{"body": string(again.Body),
				"tag": again.DeliveryTag, "redelivered": again.Redelivered})
			must(again.Ack(false))
			continue
		}
		must(d.Ack(false))
	}
	during := counts(ch, queue)
	must(ch.Cancel("go-consumer", false))
	_, open := <-deliveries
	after := counts(ch, queue)
	purged, err := ch.QueuePurge(queue, false)
	must(err)
	deleted, err := ch.QueueDelete(queue, false, false, false)
	must(err)
	must(ch.Close())
	emit("publish-consume-ack", report{"received": received, "countsDuring": during, "countsAfter": after, "deliveriesOpenAfterCancel": open,
		"purged": purged, "deleted": deleted})
}

func confirms(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	queue, full := prefix+".confirmed", prefix+".full"
	declare(ch, queue, nil)
	declare(ch, full, amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"})
	must(ch.Confirm(false))
	confirmed := ch.NotifyPublish(make(chan amqp.Confirmation, 10))
	var seen []report
	publish := func(queue, body string) {
		must(ch.Publish("", queue, false, false, amqp.Publishing{Body: []byte(body)}))
	}
	for n := 0; n < 5; n++ {
		publish(queue, fmt.Sprintf("m%d", n))
	}
	publish(full, "fits")
	publish(full, "refused")
	for len(seen) < 7 {
		select {
		case c := <-confirmed:
			seen = append(seen, report{"tag": c.DeliveryTag, "ack": c.Ack})
		case <-time.After(wait):
			fail("confirms: %d of 7 in %s", len(seen), wait)
		}
	}
	got, ok, err := ch.Get(full, true)
	must(err)
	queued := counts(ch, queue)
	for _, name := range []string{queue, full} {
		_, err := ch.QueueDelete(name, false, false, false)
		must(err)
	}
	must(ch.Close())
	emit("confirms", report{"confirms": seen, "nextSeqNo": ch.GetNextPublishSeqNo(),
		"get":    report{"ok": ok, "body": string(got.Body), "messageCount": got.MessageCount},
		"queued": queued})
}

func mandatory(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	must(ch.Confirm(false))
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	confirmed := ch.NotifyPublish(make(chan amqp.Confirmation, 1))
	nowhere := prefix + ".nowhere"
	must(ch.Publish("", nowhere, true, false, amqp.Publishing{
		Body: []byte("lost"), ContentType: "text/plain", Headers: amqp.Table{"k": "v"}}))
	// (the client hands returns and confirms over on two Go channels: their order is lost)
	events := report{}
	for len(events) < 2 {
		select {
		case r := <-returns:
			events["return"] = report{
				"replyCode": r.ReplyCode, "replyText": r.ReplyText, "exchange": r.Exchange,
				"routingKeyIsTheQueue": r.RoutingKey == nowhere, "body": string(r.Body),
				"contentType": r.ContentType, "headers": r.Headers}
		case c := <-confirmed:
			events["confirm"] = report{"tag": c.DeliveryTag, "ack": c.Ack}
		case <-time.After(wait):
			fail("mandatory: %d of 2 events in %s", len(events), wait)
		}
	}
	must(ch.Close())
	emit("mandatory", events)
}

func directReplyTo(conn *amqp.Connection, prefix string) {
	server, client := channel(conn), channel(conn)
	requests := prefix + ".rpc"
	declare(server, requests, nil)
	incoming, err := server.Consume(requests, "", false, false, false, false, nil)
	must(err)
	replies, err := client.Consume("amq.rabbitmq.reply-to", "", true, false, false, false, nil)
	must(err)
	must(client.Publish("", requests, false, false, amqp.Publishing{
		Body: []byte("2+3"), ReplyTo: "amq.rabbitmq.reply-to", CorrelationId: "rpc-1"}))
	request := next(incoming, "direct reply-to (request)")
	must(server.Publish("", request.ReplyTo, false, false, amqp.Publishing{
		Body: []byte("5"), CorrelationId: request.CorrelationId}))
	must(request.Ack(false))
	reply := next(replies, "direct reply-to (reply)")
	must(client.Close())
	_, err = server.QueueDelete(requests, false, false, false)
	must(err)
	// a request whose reply-to is not consumed on its channel: a channel error
	lone := channel(conn)
	loneClosed := lone.NotifyClose(make(chan *amqp.Error, 1))
	must(lone.Publish("", requests, false, false, amqp.Publishing{
		Body: []byte("?"), ReplyTo: "amq.rabbitmq.reply-to"}))
	must(server.Close())
	emit("direct-reply-to", report{
		"requestReplyTo": strings.HasPrefix(request.ReplyTo, "amq.rabbitmq.reply-to.") &&
			len(request.ReplyTo) > len("amq.rabbitmq.reply-to."),
		"requestBody": string(request.Body), "replyBody": string(reply.Body),
		"replyCorrelationId": reply.CorrelationId, "replyExchange": reply.Exchange,
		"replyRoutingKeyIsTheReplyTo": reply.RoutingKey == request.ReplyTo,
		"replyRedelivered":            reply.Redelivered,
		"withoutConsumer":             closed(loneClosed, "direct reply-to without a consumer")})
}

func channelErrors(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	notify := ch.NotifyClose(make(chan *amqp.Error, 1))
	_, err := ch.QueueDeclarePassive(prefix+".missing", false, false, false, false, nil)
	passive := errorOf(err)
	notified := closed(notify, "passive declare of a missing queue")
	afterwards := ch.Publish("", prefix+".missing", false, false, amqp.Publishing{})
	ch = channel(conn)
	err = ch.QueueBind(prefix+".missing", "k", prefix+".no-exchange", false, nil)
	bind := errorOf(err)
	ch = channel(conn)
	queue := prefix + ".args"
	declare(ch, queue, amqp.Table{"x-max-length": int32(5)})
	_, err = ch.QueueDeclare(queue, false, false, false, false, amqp.Table{"x-max-length": int32(6)})
	inequivalent := errorOf(err)
	ch = channel(conn)
	_, err = ch.QueueDelete(queue, false, false, false)
	must(err)
	notifyTag := ch.NotifyClose(make(chan *amqp.Error, 1))
	err = ch.Ack(99, false)
	must(err) // the error comes back as the channel's close, whenever the server sends it
	unknownTag := closed(notifyTag, "ack of an unknown delivery tag")
	must(conn.Close()) // the connection survived all of these
	emit("channel-errors", report{"passive": passive, "notified": notified,
		"publishAfterwards": errorOf(afterwards), "bind": bind,
		"inequivalent": inequivalent, "unknownTag": unknownTag})
}

func prefetch(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	queue := prefix + ".prefetch"
	declare(ch, queue, nil)
	for n := 0; n < 5; n++ {
		must(ch.Publish("", queue, false, false, amqp.Publishing{Body: []byte(fmt.Sprintf("p%d", n))}))
	}
	must(ch.Qos(2, 0, false))
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	must(err)
	var steps []report
	take := func(n int) []string {
		var bodies []string
		var last amqp.Delivery
		for i := 0; i < n; i++ {
			last = next(deliveries, "prefetch")
			bodies = append(bodies, string(last.Body))
		}
		// within the prefetch window nothing more is sent: the rest stays ready
		steps = append(steps, report{"received": bodies, "counts": counts(ch, queue)})
		must(last.Ack(true))
		return bodies
	}
	take(2)
	take(2)
	take(1)
	_, err = ch.QueueDelete(queue, false, false, false)
	must(err)
	must(ch.Close())
	emit("prefetch", report{"steps": steps})
}

func headerTypes(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	queue := prefix + ".headers"
	declare(ch, queue, nil)
	sent := amqp.Table{
		"bool": true, "int8": int8(-8), "int16": int16(-300), "int32": int32(70000),
		"int64": int64(1) << 40, "float32": float32(1.5), "float64": 2.25, "string": "café",
		"bytes": []byte{0, 255}, "decimal": amqp.Decimal{Scale: 2, Value: 12345},
		"time": time.Unix(1700000000, 0), "nil": nil,
		"array": []interface{}{int32(1), "a", amqp.Table{"k": int32(2)}},
		"table": amqp.Table{"a": amqp.Table{"b": int32(1)}},
	}
	must(ch.Publish("", queue, false, false, amqp.Publishing{Headers: sent}))
	got, ok, err := ch.Get(queue, true)
	must(err)
	if !ok {
		fail("headers: the message did not arrive")
	}
	var names []string
	for name := range got.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	typed := report{}
	for _, name := range names {
		value := got.Headers[name]
		if t, isTime := value.(time.Time); isTime {
			value = t.Unix()
		}
		typed[name] = fmt.Sprintf("%T %v", value, value)
	}
	_, err = ch.QueueDelete(queue, false, false, false)
	must(err)
	must(ch.Close())
	emit("header-types", report{"headers": typed})
}

func connectionError(url, prefix string) {
	conn, err := amqp.Dial(url)
	must(err)
	notify := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch := channel(conn)
	err = ch.ExchangeDeclare(prefix+".x", "no-such-type", false, true, false, false, nil)
	emit("connection-error", report{"declare": errorOf(err),
		"connection": closed(notify, "a connection error"), "isClosed": conn.IsClosed()})
}

func transactions(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	queue := prefix + ".tx"
	declare(ch, queue, nil)
	must(ch.Tx())
	publish := func(body string) {
		must(ch.Publish("", queue, false, false, amqp.Publishing{Body: []byte(body)}))
	}
	publish("rolled back")
	must(ch.TxRollback())
	afterRollback := counts(ch, queue)
	publish("committed")
	must(ch.TxCommit())
	afterCommit := counts(ch, queue)
	got, ok, err := ch.Get(queue, false)
	must(err)
	must(got.Ack(false))
	must(ch.TxRollback()) // the ack is undone: the message stays unacknowledged
	afterAckRolledBack := counts(ch, queue)
	must(ch.Close()) // and goes back to the queue
	ch = channel(conn)
	again, okAgain, err := ch.Get(queue, true)
	must(err)
	_, err = ch.QueueDelete(queue, false, false, false)
	must(err)
	must(ch.Close())
	emit("transactions", report{"afterRollback": afterRollback, "afterCommit": afterCommit,
		"got":                report{"ok": ok, "body": string(got.Body)},
		"afterAckRolledBack": afterAckRolledBack,
		"again": report{"ok": okAgain, "body": string(again.Body),
			"redelivered": again.Redelivered}})
}

func cancelNotification(conn *amqp.Connection, prefix string) {
	consuming, deleting := channel(conn), channel(conn)
	queue := prefix + ".cancelled"
	declare(consuming, queue, nil)
	cancelled := consuming.NotifyCancel(make(chan string, 1))
	deliveries, err := consuming.Consume(queue, "go-cancelled", false, false, false, false, nil)
	must(err)
	deleted, err := deleting.QueueDelete(queue, false, false, false)
	must(err)
	var tag string
	select {
	case tag = <-cancelled:
	case <-time.After(wait):
		fail("cancel notification: none in %s", wait)
	}
	_, open := <-deliveries
	must(consuming.Close())
	must(deleting.Close())
	emit("cancel-notification", report{"tag": tag, "deleted": deleted,
		"deliveriesOpen": open})
}

func exclusive(conn *amqp.Connection, url, prefix string) {
	ch := channel(conn)
	queue := prefix + ".exclusive"
	_, err := ch.QueueDeclare(queue, false, false, true, false, nil)
	must(err)
	_, err = ch.Consume(queue, "only-one", false, true, false, false, nil)
	must(err)
	second := channel(conn)
	_, err = second.Consume(queue, "second", false, false, false, false, nil)
	secondConsumer := errorOf(err)
	other, err := amqp.Dial(url)
	must(err)
	fromOther := channel(other)
	_, err = fromOther.QueueDeclarePassive(queue, false, false, true, false, nil)
	locked := errorOf(err)
	must(other.Close())
	must(ch.Close())
	emit("exclusive", report{"secondConsumer": secondConsumer, "fromOtherConnection": locked})
}

func routing(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	front, headers := prefix+".front", prefix+".headers-x"
	must(ch.ExchangeDeclare(front, "topic", false, true, false, false, nil))
	must(ch.ExchangeDeclare(headers, "headers", false, true, false, false, nil))
	must(ch.ExchangeBind(headers, "orders.#", front, false, nil))
	queues := map[string]amqp.Table{
		prefix + ".any": {"x-match": "any", "kind": "book", "rush": true},
		prefix + ".all": {"x-match": "all", "kind": "book", "rush": true},
	}
	for queue, args := range queues {
		declare(ch, queue, nil)
		must(ch.QueueBind(queue, "", headers, false, args))
	}
	messages := []struct {
		key     string
		headers amqp.Table
	}{
		{"orders.eu", amqp.Table{"kind": "book", "rush": true}},
		{"orders.us.west", amqp.Table{"kind": "book"}},
		{"orders", amqp.Table{"kind": "pen", "rush": true}},
		{"returns.eu", amqp.Table{"kind": "book", "rush": true}},
		{"orders.eu", amqp.Table{"kind": "pen"}},
	}
	for n, m := range messages {
		must(ch.Publish(front, m.key, false, false, amqp.Publishing{
			Body: []byte(fmt.Sprintf("r%d", n)), Headers: m.headers}))
	}
	routed := report{}
	for _, label := range []string{"any", "all"} {
		queue := prefix + "." + label
		var bodies []string
		for {
			d, ok, err := ch.Get(queue, true)
			must(err)
			if !ok {
				break
			}
			bodies = append(bodies, string(d.Body))
		}
		routed[label] = bodies
		_, err := ch.QueueDelete(queue, false, false, false)
		must(err)
	}
	must(ch.ExchangeDelete(headers, false, false))
	must(ch.ExchangeDelete(front, false, false))
	must(ch.Close())
	emit("routing", routed)
}

func deadLettering(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	work, dead := prefix+".dl-work", prefix+".dl-dead"
	declare(ch, dead, nil)
	declare(ch, work, amqp.Table{"x-dead-letter-exchange": "",
		"x-dead-letter-routing-key": dead})
	must(ch.Publish("", work, false, false, amqp.Publishing{Body: []byte("doomed"),
		Headers: amqp.Table{"k": "v"}}))
	d, ok, err := ch.Get(work, false)
	must(err)
	if !ok {
		fail("dead-lettering: nothing to get")
	}
	must(d.Reject(false))
	var got amqp.Delivery
	deadline := time.Now().Add(wait)
	for { // dead-lettering is asynchronous on RabbitMQ
		got, ok, err = ch.Get(dead, true)
		must(err)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			fail("dead-lettering: nothing dead-lettered in %s", wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var deaths []report
	if list, isList := got.Headers["x-death"].([]interface{}); isList {
		for _, entry := range list {
			if table, isTable := entry.(amqp.Table); isTable {
				death := report{}
				for name, value := range table {
					if name == "time" {
						_, isTime := value.(time.Time)
						death[name] = isTime
						continue
					}
					death[name] = fmt.Sprintf("%T %v", value, value)
				}
				deaths = append(deaths, death)
			}
		}
	}
	first := report{}
	for _, name := range []string{"x-first-death-exchange", "x-first-death-queue",
		"x-first-death-reason", "k"} {
		first[name] = got.Headers[name]
	}
	for _, queue := range []string{work, dead} {
		_, err := ch.QueueDelete(queue, false, false, false)
		must(err)
	}
	must(ch.Close())
	emit("dead-lettering", report{"body": string(got.Body), "routingKey": got.RoutingKey,
		"exchange": got.Exchange, "xDeath": deaths, "headers": first,
		"headerCount": len(got.Headers)})
}

func recoverUnacked(conn *amqp.Connection, prefix string) {
	ch := channel(conn)
	queue := prefix + ".recover"
	declare(ch, queue, nil)
	must(ch.Publish("", queue, false, false, amqp.Publishing{Body: []byte("again")}))
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	must(err)
	first := next(deliveries, "recover (first)")
	must(ch.Recover(true))
	second := next(deliveries, "recover (second)")
	must(second.Ack(false))
	_, err = ch.QueueDelete(queue, false, false, false)
	must(err)
	must(ch.Close())
	emit("recover", report{"first": report{"tag": first.DeliveryTag,
		"redelivered": first.Redelivered}, "second": report{"tag": second.DeliveryTag,
		"redelivered": second.Redelivered, "body": string(second.Body)}})
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: amqp_e2e AMQP_URL NAME_PREFIX")
	}
	url, prefix := os.Args[1], os.Args[2]
	conn, err := amqp.Dial(url)
	must(err)
	var capabilities []string
	if table, ok := conn.Properties["capabilities"].(amqp.Table); ok {
		for name := range table {
			capabilities = append(capabilities, name)
		}
	}
	sort.Strings(capabilities)
	emit("connection", report{"product": conn.Properties["product"], "major": conn.Major,
		"minor": conn.Minor, "capabilities": capabilities, "channelMax": conn.Config.ChannelMax,
		"frameSize": conn.Config.FrameSize, "heartbeat": conn.Config.Heartbeat.Seconds()})
	closedConn := conn.NotifyClose(make(chan *amqp.Error, 1))
	publishConsumeAck(conn, prefix)
	confirms(conn, prefix)
	mandatory(conn, prefix)
	directReplyTo(conn, prefix)
	prefetch(conn, prefix)
	headerTypes(conn, prefix)
	transactions(conn, prefix)
	cancelNotification(conn, prefix)
	exclusive(conn, url, prefix)
	routing(conn, prefix)
	deadLettering(conn, prefix)
	recoverUnacked(conn, prefix)
	channelErrors(conn, prefix)
	emit("closed", closed(closedConn, "the connection's close"))
	connectionError(url, prefix)
}
