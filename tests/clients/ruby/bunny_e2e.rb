# Bunny (Ruby) end to end: publish, consume and ack (a nack requeues, redelivered),
# publisher confirms (a nack from a full queue), a mandatory publish returned, direct
# reply-to RPC, channel and connection errors with their reply texts, prefetch respected,
# passive declare counts, basic.get, header values of several types, transactions, a
# consumer cancelled by the server, and an exclusive queue and consumer. Prints one JSON
# object per scenario, one a line; tests/clients/test_ruby_bunny.py checks them.
#
#   ruby bunny_e2e.rb AMQP_URL NAME_PREFIX
require "bunny"
require "json"
require "timeout"

WAIT = 10 # seconds: the bound on every wait

def emit(scenario, report)
  puts JSON.generate({ "scenario" => scenario }.merge(report))
  $stdout.flush
end

# the next item of a thread-safe queue, or a failure after WAIT
def take(queue, what)
  Timeout.timeout(WAIT) { queue.pop }
rescue Timeout::Error
  abort "bunny_e2e: #{what}: nothing in #{WAIT} s"
end

def error_of(error)
  { "class" => error.class.name, "message" => error.message }
end

def counts(channel, name)
  declared = channel.queue_declare(name, passive: true)
  [declared.message_count, declared.consumer_count]
end

def publish_consume_ack(conn, prefix)
  ch = conn.create_channel
  queue = ch.queue("#{prefix}.work")
  3.times do |n|
    ch.default_exchange.publish("m#{n}", routing_key: queue.name, persistent: true,
      content_type: "text/plain", priority: 3, correlation_id: "c#{n}", message_id: "id#{n}",
      type: "job", app_id: "ruby", timestamp: 1_700_000_000 + n, expiration: "60000",
      headers: { "n" => n })
  end
  deliveries = Queue.new
  consumer = queue.subscribe(manual_ack: true, consumer_tag: "ruby-consumer") do |info, props, body|
    deliveries << [info, props, body]
  end
  received = []
  requeued = false
  while received.size < 4
    info, props, body = take(deliveries, "publish-consume-ack")
    received << { "body" => body, "tag" => info.delivery_tag.to_i,
                  "redelivered" => info.redelivered?, "exchange" => info.exchange,
                  "routingKey" => info.routing_key, "consumerTag" => info.consumer_tag,
                  "contentType" => props.content_type, "deliveryMode" => props.delivery_mode,
                  "priority" => props.priority, "correlationId" => props.correlation_id,
                  "messageId" => props.message_id, "type" => props.type,
                  "appId" => props.app_id, "timestamp" => props.timestamp.to_i,
                  "expiration" => props.expiration, "headers" => props.headers }
    if body == "m0" && !requeued
      requeued = true
      ch.nack(info.delivery_tag, false, true) # back to the head, redelivered
    else
      ch.ack(info.delivery_tag)
    end
  end
  during = counts(ch, queue.name)
  consumer.cancel
  after = counts(ch, queue.name)
  purged = ch.queue_purge(queue.name).message_count
  deleted = ch.queue_delete(queue.name).message_count
  ch.close
  emit("publish-consume-ack", "received" => received, "countsDuring" => during,
       "countsAfter" => after, "purged" => purged, "deleted" => deleted)
end

def confirms(conn, prefix)
  ch = conn.create_channel
  queue = ch.queue("#{prefix}.confirmed")
  full = ch.queue("#{prefix}.full",
                  arguments: { "x-max-length" => 1, "x-overflow" => "reject-publish" })
  ch.confirm_select
  5.times { |n| ch.default_exchange.publish("m#{n}", routing_key: queue.name) }
  all_acked = ch.wait_for_confirms
  ch.default_exchange.publish("fits", routing_key: full.name)
  fits = ch.wait_for_confirms
  ch.default_exchange.publish("refused", routing_key: full.name)
  refused = ch.wait_for_confirms
  info, _props, body = full.pop
  report = { "allAcked" => all_acked, "fits" => fits, "refused" => refused,
             "nacked" => ch.nacked_set.to_a.sort, "nextSeqNo" => ch.next_publish_seq_no,
             "get" => { "body" => body, "routingKey" => info.routing_key },
             "queued" => counts(ch, queue.name) }
  queue.delete
  full.delete
  ch.close
  emit("confirms", report)
end

def mandatory(conn, prefix)
  ch = conn.create_channel
  returned = Queue.new
  exchange = ch.default_exchange # one object: returns go to the one last made
  exchange.on_return do |info, props, body|
    returned << { "replyCode" => info.reply_code, "replyText" => info.reply_text,
                  "exchange" => info.exchange,
                  "routingKeyIsTheQueue" => info.routing_key == "#{prefix}.nowhere",
                  "body" => body, "contentType" => props.content_type,
                  "headers" => props.headers }
  end
  ch.confirm_select
  exchange.publish("lost", routing_key: "#{prefix}.nowhere", mandatory: true,
                   content_type: "text/plain", headers: { "k" => "v" })
  acked = ch.wait_for_confirms
  report = { "return" => take(returned, "mandatory"), "acked" => acked }
  ch.close
  emit("mandatory", report)
end

def direct_reply_to(conn, prefix)
  server = conn.create_channel
  client = conn.create_channel
  requests = server.queue("#{prefix}.rpc")
  incoming = Queue.new
  requests.subscribe(manual_ack: true) { |info, props, body| incoming << [info, props, body] }
  replies = Queue.new
  client.basic_consume("amq.rabbitmq.reply-to", "", true) do |info, props, body|
    replies << [info, props, body]
  end
  client.default_exchange.publish("2+3", routing_key: requests.name,
                                  reply_to: "amq.rabbitmq.reply-to", correlation_id: "rpc-1")
  info, props, body = take(incoming, "direct reply-to (request)")
  server.default_exchange.publish("5", routing_key: props.reply_to,
                                  correlation_id: props.correlation_id)
  server.ack(info.delivery_tag)
  reply_info, reply_props, reply_body = take(replies, "direct reply-to (reply)")
  report = {
    "requestReplyTo" => props.reply_to.start_with?("amq.rabbitmq.reply-to.") &&
      props.reply_to.size > "amq.rabbitmq.reply-to.".size,
    "requestBody" => body, "replyBody" => reply_body,
    "replyCorrelationId" => reply_props.correlation_id, "replyExchange" => reply_info.exchange,
    "replyRoutingKeyIsTheReplyTo" => reply_info.routing_key == props.reply_to,
    "replyRedelivered" => reply_info.redelivered?
  }
  client.close
  requests.delete
  server.close
  emit("direct-reply-to", report)
end

def prefetch(conn, prefix)
  ch = conn.create_channel
  queue = ch.queue("#{prefix}.prefetch")
  5.times { |n| ch.default_exchange.publish("p#{n}", routing_key: queue.name) }
  ch.prefetch(2)
  deliveries = Queue.new
  queue.subscribe(manual_ack: true) { |info, _props, body| deliveries << [info, body] }
  steps = [2, 2, 1].map do |n|
    taken = Array.new(n) { take(deliveries, "prefetch") }
    # within the prefetch window nothing more is sent: the rest stays ready
    step = { "received" => taken.map(&:last), "counts" => counts(ch, queue.name) }
    ch.ack(taken.last.first.delivery_tag, true)
    step
  end
  queue.delete
  ch.close
  emit("prefetch", "steps" => steps)
end

def header_types(conn, prefix)
  ch = conn.create_channel
  queue = ch.queue("#{prefix}.headers")
  sent = { "int" => 7, "big" => 2**40, "neg" => -3, "float" => 1.5, "string" => "café",
           "true" => true, "false" => false, "nil" => nil, "time" => Time.at(1_700_000_000),
           "array" => [1, "a", { "k" => 2 }], "table" => { "a" => { "b" => 1 } } }
  ch.default_exchange.publish("", routing_key: queue.name, headers: sent)
  _info, props, _body = queue.pop
  typed = props.headers.sort.to_h.transform_values do |value|
    value = value.to_i if value.is_a?(Time)
    "#{value.class} #{value.inspect}"
  end
  queue.delete
  ch.close
  emit("header-types", "headers" => typed)
end

def channel_errors(conn, prefix)
  ch = conn.create_channel
  report = {}
  begin
    ch.queue_declare("#{prefix}.missing", passive: true)
  rescue Bunny::NotFound => e
    report["passive"] = error_of(e)
  end
  report["channelOpen"] = ch.open?
  ch = conn.create_channel
  begin
    ch.queue_bind("#{prefix}.missing", "#{prefix}.no-exchange", routing_key: "k")
  rescue Bunny::NotFound => e
    report["bind"] = error_of(e)
  end
  ch = conn.create_channel
  ch.queue("#{prefix}.args", arguments: { "x-max-length" => 5 })
  begin
    ch.queue_declare("#{prefix}.args", arguments: { "x-max-length" => 6 })
  rescue Bunny::PreconditionFailed => e
    report["inequivalent"] = error_of(e)
  end
  ch = conn.create_channel
  ch.queue_delete("#{prefix}.args")
  report["connectionOpen"] = conn.open?
  emit("channel-errors", report)
end

# connection errors are raised through the session's error handler: this one keeps them
class ErrorCatcher
  def initialize
    @errors = Queue.new
  end

  def raise(error)
    @errors << error
  end

  def next_error
    take(@errors, "a connection error")
  end
end

def connection_error(url, prefix)
  catcher = ErrorCatcher.new
  conn = Bunny.new(url, automatically_recover: false, recover_from_connection_close: false,
                        session_error_handler: catcher, logger: Logger.new(IO::NULL))
  conn.start
  ch = conn.create_channel
  # Bunny's declare waits for an answer that a connection error never gives: not for it
  declaring = Thread.new do
    Thread.current.report_on_exception = false
    ch.exchange_declare("#{prefix}.x", "no-such-type")
  end
  error = catcher.next_error
  declaring.kill
  emit("connection-error", "error" => error_of(error))
end

def transactions(conn, prefix)
  ch = conn.create_channel
  queue = ch.queue("#{prefix}.tx")
  ch.tx_select
  ch.default_exchange.publish("rolled back", routing_key: queue.name)
  ch.tx_rollback
  after_rollback = counts(ch, queue.name)
  ch.default_exchange.publish("committed", routing_key: queue.name)
  ch.tx_commit
  after_commit = counts(ch, queue.name)
  info, _props, body = queue.pop(manual_ack: true)
  ch.ack(info.delivery_tag)
  ch.tx_rollback # the ack is undone: the message stays unacknowledged
  after_ack_rolled_back = counts(ch, queue.name)
  ch.close # and goes back to the queue
  ch = conn.create_channel
  again_info, _again_props, again_body = ch.basic_get(queue.name, manual_ack: false)
  ch.queue_delete(queue.name)
  ch.close
  emit("transactions", "afterRollback" => after_rollback, "afterCommit" => after_commit,
                       "got" => body, "afterAckRolledBack" => after_ack_rolled_back,
                       "again" => { "body" => again_body,
                                    "redelivered" => again_info.redelivered,
                                    "messageCount" => again_info.message_count })
end

def cancel_notification(conn, prefix)
  consuming = conn.create_channel
  deleting = conn.create_channel
  queue = consuming.queue("#{prefix}.cancelled")
  cancelled = Queue.new
  consumer = Bunny::Consumer.new(consuming, queue, "ruby-cancelled", false)
  consumer.on_cancellation { |basic_cancel| cancelled << basic_cancel.consumer_tag }
  queue.subscribe_with(consumer)
  deleted = deleting.queue_delete(queue.name).message_count
  tag = take(cancelled, "cancel notification")
  report = { "tag" => tag, "deleted" => deleted, "consumers" => consuming.consumers.size }
  consuming.close
  deleting.close
  emit("cancel-notification", report)
end

def exclusive(conn, url, prefix)
  ch = conn.create_channel
  queue = ch.queue("#{prefix}.exclusive", exclusive: true)
  queue.subscribe(exclusive: true, manual_ack: true) { |*| nil }
  report = {}
  second = conn.create_channel
  begin
    second.basic_consume(queue.name, "second", false)
  rescue Bunny::AccessRefused => e
    report["secondConsumer"] = error_of(e)
  end
  other = Bunny.new(url, automatically_recover: false, logger: Logger.new(IO::NULL))
  other.start
  begin
    other.create_channel.queue_declare(queue.name, passive: true)
  rescue Bunny::ResourceLocked => e
    report["fromOtherConnection"] = error_of(e)
  end
  other.close
  ch.close
  emit("exclusive", report)
end

url, prefix = ARGV
abort "usage: ruby bunny_e2e.rb AMQP_URL NAME_PREFIX" unless url && prefix
conn = Bunny.new(url, automatically_recover: false, logger: Logger.new(IO::NULL))
conn.start
emit("connection", "product" => conn.server_properties["product"],
                   "capabilities" => conn.server_capabilities.keys.sort,
                   "channelMax" => conn.channel_max, "frameMax" => conn.frame_max,
                   "heartbeat" => conn.heartbeat)
publish_consume_ack(conn, prefix)
confirms(conn, prefix)
mandatory(conn, prefix)
direct_reply_to(conn, prefix)
prefetch(conn, prefix)
header_types(conn, prefix)
transactions(conn, prefix)
cancel_notification(conn, prefix)
exclusive(conn, url, prefix)
channel_errors(conn, prefix)
conn.close
emit("closed", "closed" => conn.closed?)
connection_error(url, prefix)
