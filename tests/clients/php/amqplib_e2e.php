<?php
// php-amqplib (PHP) end to end: publish, consume and ack (a nack requeues, redelivered),
// publisher confirms (a nack from a full queue), a mandatory publish returned, direct
// reply-to RPC, prefetch respected, passive declare counts, basic.get, header values of
// several types, and channel and connection errors with their reply texts. Prints one JSON
// object per scenario, one a line; tests/clients/test_php_amqplib.py checks them.
//
//   php amqplib_e2e.php AMQP_URL NAME_PREFIX
declare(strict_types=1);

require_once 'PhpAmqpLib/autoload.php';

use PhpAmqpLib\Channel\AMQPChannel;
use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Exception\AMQPConnectionClosedException;
use PhpAmqpLib\Exception\AMQPProtocolChannelException;
use PhpAmqpLib\Message\AMQPMessage;
use PhpAmqpLib\Wire\AMQPTable;

const WAIT = 10; // seconds: the bound on every wait

function emit(string $scenario, array $report): void
{
    echo json_encode(['scenario' => $scenario] + $report, JSON_UNESCAPED_SLASHES
        | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR), "\n";
}

function connect(string $url): AMQPStreamConnection
{
    $parts = parse_url($url);
    $vhost = isset($parts['path']) && strlen($parts['path']) > 1
        ? rawurldecode(substr($parts['path'], 1)) : '/';
    return new AMQPStreamConnection($parts['host'], $parts['port'] ?? 5672,
        rawurldecode($parts['user'] ?? 'guest'), rawurldecode($parts['pass'] ?? 'guest'),
        $vhost);
}

function counts(AMQPChannel $ch, string $queue): array
{
    [, $messages, $consumers] = $ch->queue_declare($queue, true);
    return [$messages, $consumers];
}

function declare_queue(AMQPChannel $ch, string $queue, array $arguments = []): void
{
    $ch->queue_declare($queue, false, false, false, false, false, new AMQPTable($arguments));
}

/** Wait on the channel until $done() holds (it reads the state by reference). */
function wait_until(AMQPChannel $ch, callable $done, string $what): void
{
    $deadline = microtime(true) + WAIT;
    while (!$done()) {
        if (microtime(true) > $deadline) {
            fwrite(STDERR, "amqplib_e2e: $what: not in " . WAIT . " s\n");
            exit(1);
        }
        $ch->wait(null, false, WAIT);
    }
}

function publish_consume_ack(AMQPStreamConnection $conn, string $prefix): void
{
    $ch = $conn->channel();
    $queue = "$prefix.work";
    declare_queue($ch, $queue);
    for ($n = 0; $n < 3; $n++) {
        $ch->basic_publish(new AMQPMessage("m$n", [
            'content_type' => 'text/plain', 'delivery_mode' => 2, 'priority' => 3,
            'correlation_id' => "c$n", 'message_id' => "id$n", 'type' => 'job',
            'app_id' => 'php', 'timestamp' => 1700000000 + $n, 'expiration' => '60000',
            'application_headers' => new AMQPTable(['n' => $n])]), '', $queue);
    }
    $received = [];
    $requeued = false;
    $ch->basic_consume($queue, 'php-consumer', false, false, false, false,
        function (AMQPMessage $m) use (&$received, &$requeued): void {
            $props = $m->get_properties();
            $received[] = ['body' => $m->getBody(), 'tag' => $m->getDeliveryTag(),
                'redelivered' => $m->isRedelivered(), 'exchange' => $m->getExchange(),
                'routingKey' => $m->getRoutingKey(), 'consumerTag' => $m->getConsumerTag(),
                'contentType' => $props['content_type'],
                'deliveryMode' => $props['delivery_mode'], 'priority' => $props['priority'],
                'correlationId' => $props['correlation_id'],
                'messageId' => $props['message_id'], 'type' => $props['type'],
                'appId' => $props['app_id'], 'timestamp' => $props['timestamp'],
                'expiration' => $props['expiration'],
                'headers' => $props['application_headers']->getNativeData()];
            if ($m->getBody() === 'm0' && !$requeued) {
                $requeued = true;
                $m->nack(true); // back to the head, redelivered
            } else {
                $m->ack();
            }
        });
    wait_until($ch, function () use (&$received) {
        return count($received) === 4;
    }, 'publish-consume-ack');
    $during = counts($ch, $queue);
    $ch->basic_cancel('php-consumer');
    $after = counts($ch, $queue);
    $ch->queue_delete($queue);
    $ch->close();
    emit('publish-consume-ack', ['received' => $received, 'countsDuring' => $during,
        'countsAfter' => $after]);
}

function confirms(AMQPStreamConnection $conn, string $prefix): void
{
    $ch = $conn->channel();
    $queue = "$prefix.confirmed";
    $full = "$prefix.full";
    declare_queue($ch, $queue);
    declare_queue($ch, $full, ['x-max-length' => 1, 'x-overflow' => 'reject-publish']);
    $ch->confirm_select();
    $seen = [];
    $ch->set_ack_handler(function (AMQPMessage $m) use (&$seen): void {
        $seen[] = ['body' => $m->getBody(), 'ack' => true];
    });
    $ch->set_nack_handler(function (AMQPMessage $m) use (&$seen): void {
        $seen[] = ['body' => $m->getBody(), 'ack' => false];
    });
    for ($n = 0; $n < 5; $n++) {
        $ch->basic_publish(new AMQPMessage("m$n"), '', $queue);
    }
    $ch->basic_publish(new AMQPMessage('fits'), '', $full);
    $ch->basic_publish(new AMQPMessage('refused'), '', $full);
    $ch->wait_for_pending_acks(WAIT);
    $got = $ch->basic_get($full, true);
    $report = ['confirms' => $seen,
        'get' => ['body' => $got->getBody(), 'messageCount' => $got->getMessageCount()],
        'getEmpty' => $ch->basic_get($full, true) === null, 'queued' => counts($ch, $queue)];
    $ch->queue_delete($queue);
    $ch->queue_delete($full);
    $ch->close();
    emit('confirms', $report);
}

function mandatory(AMQPStreamConnection $conn, string $prefix): void
{
    $ch = $conn->channel();
    $events = [];
    $ch->set_return_listener(function (int $code, string $text, string $exchange,
                                       string $key, AMQPMessage $m) use (&$events, $prefix) {
        $events[] = ['return' => ['replyCode' => $code, 'replyText' => $text,
            'exchange' => $exchange, 'routingKeyIsTheQueue' => $key === "$prefix.nowhere",
            'body' => $m->getBody(), 'contentType' => $m->get('content_type'),
            'headers' => $m->get('application_headers')->getNativeData()]];
    });
    $ch->confirm_select();
    $ch->set_ack_handler(function () use (&$events): void {
        $events[] = ['confirm' => 'ack'];
    });
    $ch->basic_publish(new AMQPMessage('lost', ['content_type' => 'text/plain',
        'application_headers' => new AMQPTable(['k' => 'v'])]), '', "$prefix.nowhere", true);
    $ch->wait_for_pending_acks_returns(WAIT);
    $ch->close();
    emit('mandatory', ['events' => $events]);
}

function direct_reply_to(AMQPStreamConnection $conn, string $prefix): void
{
    $server = $conn->channel();
    $client = $conn->channel();
    $requests = "$prefix.rpc";
    declare_queue($server, $requests);
    $request = null;
    $server->basic_consume($requests, '', false, false, false, false,
        function (AMQPMessage $m) use (&$request): void {
            $request = $m;
        });
    $reply = null;
    $client->basic_consume('amq.rabbitmq.reply-to', '', false, true, false, false,
        function (AMQPMessage $m) use (&$reply): void {
            $reply = $m;
        });
    $client->basic_publish(new AMQPMessage('2+3', ['reply_to' => 'amq.rabbitmq.reply-to',
        'correlation_id' => 'rpc-1']), '', $requests);
    wait_until($server, function () use (&$request) {
        return $request !== null;
    }, 'direct reply-to (request)');
    $replyTo = $request->get('reply_to');
    $server->basic_publish(new AMQPMessage('5',
        ['correlation_id' => $request->get('correlation_id')]), '', $replyTo);
    $request->ack();
    wait_until($client, function () use (&$reply) {
        return $reply !== null;
    }, 'direct reply-to (reply)');
    $client->close();
    $server->queue_delete($requests);
    $server->close();
    emit('direct-reply-to', [
        'requestReplyTo' => str_starts_with($replyTo, 'amq.rabbitmq.reply-to.')
            && strlen($replyTo) > strlen('amq.rabbitmq.reply-to.'),
        'requestBody' => $request->getBody(), 'replyBody' => $reply->getBody(),
        'replyCorrelationId' => $reply->get('correlation_id'),
        'replyExchange' => $reply->getExchange(),
        'replyRoutingKeyIsTheReplyTo' => $reply->getRoutingKey() === $replyTo,
        'replyRedelivered' => $reply->isRedelivered()]);
}

function prefetch(AMQPStreamConnection $conn, string $prefix): void
{
    $ch = $conn->channel();
    $queue = "$prefix.prefetch";
    declare_queue($ch, $queue);
    for ($n = 0; $n < 5; $n++) {
        $ch->basic_publish(new AMQPMessage("p$n"), '', $queue);
    }
    $ch->basic_qos(0, 2, false);
    $taken = [];
    $ch->basic_consume($queue, '', false, false, false, false,
        function (AMQPMessage $m) use (&$taken): void {
            $taken[] = $m;
        });
    $steps = [];
    foreach ([2, 2, 1] as $n) {
        wait_until($ch, function () use (&$taken, $n) {
            return count($taken) === $n;
        }, 'prefetch');
        // within the prefetch window nothing more is sent: the rest stays ready
        $steps[] = ['received' => array_map(fn ($m) => $m->getBody(), $taken),
            'counts' => counts($ch, $queue)];
        end($taken)->ack(true);
        $taken = [];
    }
    $ch->queue_delete($queue);
    $ch->close();
    emit('prefetch', ['steps' => $steps]);
}

function header_types(AMQPStreamConnection $conn, string $prefix): void
{
    $ch = $conn->channel();
    $queue = "$prefix.headers";
    declare_queue($ch, $queue);
    $sent = ['int' => 7, 'big' => 2 ** 40, 'neg' => -3, 'float' => 1.5, 'string' => 'café',
        'true' => true, 'false' => false, 'null' => null, 'array' => [1, 'a', ['k' => 2]],
        'table' => ['a' => ['b' => 1]]];
    $ch->basic_publish(new AMQPMessage('', ['application_headers' => new AMQPTable($sent)]),
        '', $queue);
    $got = $ch->basic_get($queue, true);
    $headers = $got->get('application_headers')->getNativeData();
    ksort($headers);
    $typed = [];
    foreach ($headers as $name => $value) {
        $typed[$name] = get_debug_type($value) . ' ' . json_encode($value,
            JSON_UNESCAPED_UNICODE);
    }
    $ch->queue_delete($queue);
    $ch->close();
    emit('header-types', ['headers' => $typed]);
}

function error_of(Throwable $e): array
{
    return ['class' => get_class($e), 'code' => $e->getCode(), 'message' => $e->getMessage()];
}

function channel_errors(AMQPStreamConnection $conn, string $prefix): void
{
    $report = [];
    $ch = $conn->channel();
    try {
        $ch->queue_declare("$prefix.missing", true);
    } catch (AMQPProtocolChannelException $e) {
        $report['passive'] = error_of($e);
    }
    $report['channelOpen'] = $ch->is_open();
    $ch = $conn->channel();
    try {
        $ch->queue_bind("$prefix.missing", "$prefix.no-exchange", 'k');
    } catch (AMQPProtocolChannelException $e) {
        $report['bind'] = error_of($e);
    }
    $ch = $conn->channel();
    declare_queue($ch, "$prefix.args", ['x-max-length' => 5]);
    try {
        declare_queue($ch, "$prefix.args", ['x-max-length' => 6]);
    } catch (AMQPProtocolChannelException $e) {
        $report['inequivalent'] = error_of($e);
    }
    $ch = $conn->channel();
    $ch->queue_delete("$prefix.args");
    $report['connectionOpen'] = $conn->isConnected();
    emit('channel-errors', $report);
}

function connection_error(string $url, string $prefix): void
{
    $conn = connect($url);
    $ch = $conn->channel();
    try {
        $ch->exchange_declare("$prefix.x", 'no-such-type', false, false, true);
        $report = ['error' => 'none'];
    } catch (AMQPConnectionClosedException $e) {
        $report = ['error' => error_of($e)];
    }
    $report['connected'] = $conn->isConnected();
    emit('connection-error', $report);
}

[, $url, $prefix] = $argv + [null, null, null];
if ($url === null || $prefix === null) {
    fwrite(STDERR, "usage: php amqplib_e2e.php AMQP_URL NAME_PREFIX\n");
    exit(2);
}
$conn = connect($url);
$server = $conn->getServerProperties();
$capabilities = array_keys($server['capabilities'][1]);
sort($capabilities);
emit('connection', ['product' => $server['product'][1], 'capabilities' => $capabilities]);
publish_consume_ack($conn, $prefix);
confirms($conn, $prefix);
mandatory($conn, $prefix);
direct_reply_to($conn, $prefix);
prefetch($conn, $prefix);
header_types($conn, $prefix);
channel_errors($conn, $prefix);
$conn->close();
emit('closed', ['connected' => $conn->isConnected()]);
connection_error($url, $prefix);
