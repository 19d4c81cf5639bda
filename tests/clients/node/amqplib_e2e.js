// amqplib (Node.js) end to end: publish on a confirm channel, a nack from a full queue,
// consume with prefetch and ack, basic.get, and a channel error. Prints one JSON object
// with what it observed (field values sent as amqplib encodes them included);
// tests/clients/test_node_amqplib.py checks it.
//
//   node amqplib_e2e.js AMQP_URL QUEUE_PREFIX
'use strict';

const amqp = require('amqplib');

async function main(url, prefix) {
  const report = {};
  const connection = await amqp.connect(url);
  report.server = connection.connection.serverProperties.product;
  try {
    const channel = await connection.createConfirmChannel();
    const queue = `${prefix}.q`;
    const full = `${prefix}.full`;
    await channel.assertQueue(queue, { durable: false });
    await channel.assertQueue(full, {
      durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });

    const confirmed = [];
    for (let n = 0; n < 50; n++) {
      channel.publish('', queue, Buffer.from(`m${n}`),
        { headers: { n }, contentType: 'text/plain', persistent: true },
        (err) => confirmed.push(err ? 'nack' : 'ack'));
    }
    await channel.waitForConfirms();
    report.confirms = confirmed;

    const outcome = (err) => (err ? 'nack' : 'ack');
    report.full = await Promise.all(['fits', 'refused'].map((body) => new Promise(
      (resolve) => channel.publish('', full, Buffer.from(body), {},
        (err) => resolve(outcome(err))))));

    await channel.prefetch(10);
    const received = [];
    await new Promise((resolve, reject) => {
      channel.consume(queue, (message) => {
        if (message === null) { reject(new Error('consumer cancelled by the broker')); return; }
        received.push({
          body: message.content.toString(),
          n: message.properties.headers.n,
          contentType: message.properties.contentType,
          deliveryMode: message.properties.deliveryMode,
          redelivered: message.fields.redelivered,
        });
        channel.ack(message);
        if (received.length === 50) resolve();
      }).catch(reject);
    });
    report.received = received;

    const got = await channel.get(full, { noAck: false });
    report.get = { body: got.content.toString(), messageCount: got.fields.messageCount };
    channel.ack(got);
    report.getEmpty = await channel.get(full);
    await channel.close();

    const doomed = await connection.createChannel();
    const closed = new Promise((resolve) => doomed.on('error', (err) => resolve(err)));
    try {
      await doomed.checkQueue(`${prefix}.missing`);
      report.checkQueue = 'found';
    } catch (err) {
      report.checkQueue = { code: err.code, message: err.message };
    }
    const error = await closed;
    report.channelError = { code: error.code };

    // field values as amqplib encodes them (numbers as long or double, typed values),
    // back as they went; a double where an integer is due is refused
    const typed = await connection.createChannel();
    typed.on('error', () => {});
    const fields = (await typed.assertQueue('', { exclusive: true })).queue;
    typed.publish('', fields, Buffer.from('typed'), { headers: {
      int: 7, big: 2 ** 40, neg: -3, dbl: 1.5, s: 'café', t: true, n: null,
      buf: Buffer.from([0, 255]), arr: [1, 'a', { k: 2 }], obj: { a: { b: 1 } },
      f: { '!': 'float', value: 2.5 }, short: { '!': 'short', value: 300 } } });
    let typedMessage = false;
    for (let i = 0; i < 250 && !typedMessage; i++) {
      typedMessage = await typed.get(fields, { noAck: true });
      if (!typedMessage) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const headers = typedMessage.properties.headers;
    headers.buf = [...headers.buf];
    report.headers = headers;
    try {
      await typed.assertQueue('', { exclusive: true, arguments: { 'x-message-ttl': 1.5 } });
      report.doubleTtl = 'accepted';
    } catch (err) {
      report.doubleTtl = { code: err.code, message: err.message.replace(/amq\.gen-[\w-]+/, 'amq.gen-*') };
    }

    const cleanup = await connection.createChannel();
    await cleanup.deleteQueue(queue);
    await cleanup.deleteQueue(full);
    await cleanup.close();
  } finally {
    await connection.close();
  }
  return report;
}

const timer = setTimeout(() => {
  process.stderr.write('timed out\n');
  process.exit(2);
}, 15000);

main(process.argv[2], process.argv[3]).then((report) => {
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}, (err) => {
  clearTimeout(timer);
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
