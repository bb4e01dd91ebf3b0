'use strict';
// An SMSC for the gateway's tests, built on node-smpp (the real peer).
//
// Usage: node simulator.js [--port 0] [--record FILE] [--lifetime SECONDS]
//                          [--tls-key KEY.pem --tls-cert CERT.pem]
// Prints {"event":"listening","port":N} on stdout, then answers one JSON command per
// stdin line with one JSON line {"id":..., "ok":true, ...}. It exits when stdin
// closes or after --lifetime seconds, so a run is always bounded in time.
//
// Bodies travel as hex so tests can check them byte for byte: node-smpp's own text
// encodings are switched off, and short_message/message_payload stay raw Buffers.

const fs = require('fs');
const readline = require('readline');
const smpp = require('smpp');

delete smpp.encodings.ASCII;
delete smpp.encodings.LATIN1;
delete smpp.encodings.UCS2;

const args = process.argv.slice(2);
function option(name, fallback) {
  const index = args.indexOf('--' + name);
  return index >= 0 ? args[index + 1] : fallback;
}

const config = {
  system_id: null, // when set, binds must match it and the password
  password: null,
  dlr: false, // send a delivery receipt for each submit that asks for one
  dlr_id_format: 'decimal', // the id in the receipt text: 'decimal' or 'hex'
  id_base: 'hex', // how submit_sm_resp writes message ids: 'hex' or 'decimal'
  id_start: 0x100000, // the first message id's value (set it to count from 1)
  dlr_delay_ms: 0, // send each receipt this long after the submit_sm_resp
  dlr_stat: 'DELIVRD', // the receipts' stat: DELIVRD or UNDELIV
  undeliv_dests: [], // destinations whose receipts say UNDELIV whatever dlr_stat says
  dlr_tlv: true, // carry receipted_message_id (the id as in submit_sm_resp) in receipts
  throttle_every: 0, // answer every Nth submit_sm with ESME_RTHROTTLED
  grant_tps: 0, // the account's grant: a submit_sm beyond it in any 1 s gets ESME_RTHROTTLED
  temporary_every: 0, // answer every Nth submit_sm with temporary_status
  temporary_status: 0x14,
  nack_every: 0, // answer every Nth submit_sm with a generic_nack carrying nack_status
  nack_status: 0,
  final_every: 0, // answer every Nth submit_sm with final_status
  final_status: 0x0b,
  // Answer submit_sm to destinations starting with a prefix with a status, as an SMSC
  // with no route there would: [{prefix: '2547', status: 0x0b}, ...]. Not recorded.
  refuse: [],
  silent_after_bind: false, // after bind_resp, answer nothing at all
  close_mid_pdu_after: 0, // after N submits, write half a PDU and drop the socket
  record_bodies: true,
  no_delay: false, // TCP_NODELAY on accepted sockets (as a production SMSC would)
  // Like a production SMSC, retry a receipt whose deliver_sm_resp never came: when its
  // session closes, send it on another bound session of the same account (or the next
  // one to bind). Off by default so the other tests see each receipt once.
  redeliver_receipts: false,
};

const sessions = new Set();
const stats = {
  binds: 0, submits: 0, accepted: 0, throttled: 0, temporary: 0, final: 0,
  dlrs_sent: 0, dlrs_acked: 0, enquire_links: 0, unbinds: 0, nacks: [],
  unknown_from_esme: 0,
  deliver_errors: [], // deliver_sm_resp with a non-zero status: {sequence, status}
};
const submitTimes = []; // ms (monotonic) of every submit_sm received
const granted = []; // ms of the submits let through within the last second (grant_tps)
const messages = []; // reassembled messages
const partial = new Map(); // dest|ref|total -> parts
const ussdWaiters = new Map(); // msisdn -> resolve(reply)
let messageCounter = 0x100000;
let recordFd = null;
const recordPath = option('record', null);
if (recordPath) {
  recordFd = fs.openSync(recordPath, 'a');
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

function emit(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

function bodyOf(pdu) {
  // Returns {udh: Buffer|null, body: Buffer} of a submit_sm / deliver_sm.
  const payload = pdu.message_payload;
  if (payload && payload.message && payload.message.length) {
    return {udh: null, body: payload.message};
  }
  const sm = pdu.short_message || {};
  const udh = sm.udh && sm.udh.length ? Buffer.concat(sm.udh) : null;
  return {udh: udh, body: sm.message || Buffer.alloc(0)};
}

function concatenation(pdu, udh) {
  if (udh) {
    for (let i = 0; i + 2 <= udh.length;) {
      const element = udh[i];
      const size = udh[i + 1];
      if (element === 0x00 && size === 3) {
        return {ref: udh[i + 2], total: udh[i + 3], seq: udh[i + 4]};
      }
      if (element === 0x08 && size === 4) {
        return {ref: udh.readUInt16BE(i + 2), total: udh[i + 4], seq: udh[i + 5]};
      }
      i += 2 + size;
    }
  }
  if (pdu.sar_msg_ref_num !== undefined) {
    return {ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum};
  }
  return null;
}

function collect(pdu, messageId) {
  const {udh, body} = bodyOf(pdu);
  const part = concatenation(pdu, udh);
  const record = {
    t: nowMs(), id: messageId, dest: pdu.destination_addr, source: pdu.source_addr,
    dc: pdu.data_coding, esm: pdu.esm_class, hex: body.toString('hex'),
    ref: part ? part.ref : null, total: part ? part.total : 1, seq: part ? part.seq : 1,
    via: udh ? 'udh' : (part ? 'sar' : (pdu.message_payload ? 'payload' : 'single')),
    // validity_period as node-smpp read it (a Date for an absolute or relative time)
    validity: pdu.validity_period instanceof Date ? pdu.validity_period.toISOString() : null,
  };
  if (recordFd !== null) {
    fs.writeSync(recordFd, JSON.stringify(record) + '\n');
  }
  if (!part) {
    if (config.record_bodies) {
      messages.push({dest: record.dest, source: record.source, dc: record.dc, hex: record.hex, ids: [messageId], via: record.via});
    }
    return;
  }
  const key = record.dest + '|' + part.ref + '|' + part.total;
  let entry = partial.get(key);
  if (!entry) {
    entry = {parts: new Map(), dc: record.dc};
    partial.set(key, entry);
  }
  entry.parts.set(part.seq, record);
  if (entry.parts.size === part.total) {
    partial.delete(key);
    const ordered = [];
    for (let i = 1; i <= part.total; i++) {
      ordered.push(entry.parts.get(i));
    }
    if (ordered.some((p) => !p)) {
      return;
    }
    messages.push({
      dest: record.dest, source: record.source, dc: entry.dc, hex: ordered.map((p) => p.hex).join(''),
      ids: ordered.map((p) => p.id), via: record.via, parts: part.total,
    });
  }
}

function receiverFor(session) {
  if (session.mode === 'transceiver' || session.mode === 'receiver') {
    return session;
  }
  for (const other of sessions) {
    if (other.bound && other.mode !== 'transmitter' && other.system_id === session.system_id) {
      return other;
    }
  }
  return null;
}

function anyReceiver() {
  for (const session of sessions) {
    if (session.bound && session.mode !== 'transmitter' && !session.silent) {
      return session;
    }
  }
  return null;
}

const heldReceipts = []; // [system_id, messageId]: owed while no session of it is bound

function owedReceiver(systemId) {
  for (const other of sessions) {
    if (other.bound && other.mode !== 'transmitter' && other.system_id === systemId) {
      return other;
    }
  }
  return null;
}

function redeliverOwed(closed) {
  for (const messageId of closed.owedReceipts || []) {
    const target = owedReceiver(closed.system_id);
    if (target) {
      sendReceipt(target, messageId);
    } else {
      heldReceipts.push([closed.system_id, messageId]);
    }
  }
}

function sendHeld(session) {
  for (let i = heldReceipts.length - 1; i >= 0; i--) {
    if (heldReceipts[i][0] === session.system_id) {
      sendReceipt(session, heldReceipts[i][1]);
      heldReceipts.splice(i, 1);
    }
  }
}

function sendReceipt(session, messageId, dest) {
  let target = receiverFor(session);
  if (config.redeliver_receipts && (!target || !sessions.has(target))) {
    target = owedReceiver(session.system_id);
    if (!target) {
      heldReceipts.push([session.system_id, messageId]);
      return;
    }
  }
  if (!target) {
    return;
  }
  if (config.redeliver_receipts) {
    target.owedReceipts = target.owedReceipts || new Set();
    target.owedReceipts.add(messageId);
  }
  const value = parseInt(messageId, config.id_base === 'hex' ? 16 : 10);
  const shown = config.dlr_id_format === 'hex' ? value.toString(16) : String(value);
  const stat = dest !== undefined && config.undeliv_dests.includes(dest) ? 'UNDELIV' : config.dlr_stat;
  const text = 'id:' + shown + ' sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:' + stat + ' err:000 text:';
  stats.dlrs_sent++;
  const receipt = {
    source_addr: '', destination_addr: '', esm_class: 0x04, data_coding: 0,
    short_message: Buffer.from(text, 'latin1'),
  };
  if (config.dlr_tlv) {
    receipt.receipted_message_id = messageId;
    receipt.message_state = stat === 'DELIVRD' ? 2 : 5;
  }
  target.deliver_sm(receipt, function () {
    stats.dlrs_acked++;
    if (target.owedReceipts) {
      target.owedReceipts.delete(messageId);
    }
  });
}

function onSubmit(session, pdu) {
  stats.submits++;
  submitTimes.push(nowMs());
  const n = stats.submits;
  if (session.silent) {
    return;
  }
  if (config.close_mid_pdu_after && n >= config.close_mid_pdu_after) {
    config.close_mid_pdu_after = 0;
    session.socket.write(Buffer.from('0000002c00000004', 'hex'));
    session.socket.destroy();
    return;
  }
  const refusal = config.refuse.find((r) => String(pdu.destination_addr).startsWith(r.prefix));
  if (refusal) {
    stats.refused = (stats.refused || 0) + 1;
    session.send(pdu.response({command_status: refusal.status}));
    return;
  }
  if (config.grant_tps > 0) {
    const now = nowMs();
    while (granted.length && now - granted[0] >= 1000) {
      granted.shift();
    }
    if (granted.length >= config.grant_tps) {
      stats.throttled++;
      session.send(pdu.response({command_status: 0x58}));
      return;
    }
    granted.push(now);
  }
  if (config.throttle_every && n % config.throttle_every === 0) {
    stats.throttled++;
    session.send(pdu.response({command_status: 0x58}));
    return;
  }
  if (config.temporary_every && n % config.temporary_every === 0) {
    stats.temporary++;
    session.send(pdu.response({command_status: config.temporary_status}));
    return;
  }
  if (config.nack_every && n % config.nack_every === 0) {
    stats.nacked = (stats.nacked || 0) + 1;
    session.send(new smpp.PDU('generic_nack', {
      sequence_number: pdu.sequence_number, command_status: config.nack_status,
    }));
    return;
  }
  if (config.final_every && n % config.final_every === 0) {
    stats.final++;
    session.send(pdu.response({command_status: config.final_status}));
    return;
  }
  const messageId = (messageCounter++).toString(config.id_base === 'hex' ? 16 : 10);
  stats.accepted++;
  if (pdu.ussd_service_op !== undefined) {
    stats.ussd_replies = (stats.ussd_replies || 0) + 1;
    const waiter = ussdWaiters.get(pdu.destination_addr);
    const {body} = bodyOf(pdu);
    const info = pdu.its_session_info;
    const reply = {
      op: pdu.ussd_service_op, dc: pdu.data_coding, hex: body.toString('hex'),
      service_type: pdu.service_type, source: pdu.source_addr,
      session_info: info && info.length === 2 ? info.readUInt16BE(0) : null,
      umr: pdu.user_message_reference !== undefined ? pdu.user_message_reference : null,
    };
    session.send(pdu.response({message_id: messageId}));
    if (waiter) {
      ussdWaiters.delete(pdu.destination_addr);
      waiter(reply);
    }
    return;
  }
  collect(pdu, messageId);
  session.send(pdu.response({message_id: messageId}));
  if (config.dlr && (pdu.registered_delivery & 0x01)) {
    if (config.dlr_delay_ms > 0) {
      setTimeout(sendReceipt, config.dlr_delay_ms, session, messageId, pdu.destination_addr);
    } else {
      setImmediate(sendReceipt, session, messageId, pdu.destination_addr);
    }
  }
}

function onBind(mode, session, pdu) {
  if (config.system_id !== null &&
      (pdu.system_id !== config.system_id || pdu.password !== config.password)) {
    session.send(pdu.response({command_status: 0x0e}));
    return;
  }
  stats.binds++;
  session.mode = mode;
  session.system_id = pdu.system_id;
  session.bound = true;
  session.send(pdu.response({system_id: 'SIMSMSC'}));
  if (config.redeliver_receipts) {
    sendHeld(session);
  }
  if (config.silent_after_bind) {
    session.silent = true;
  }
}

// --tls-key/--tls-cert: serve SMPP over TLS (node-smpp's secure server).
const tlsOptions = option('tls-key', null)
  ? {key: fs.readFileSync(option('tls-key')), cert: fs.readFileSync(option('tls-cert'))}
  : {};
const server = smpp.createServer(tlsOptions, function (session) {
  sessions.add(session);
  if (config.no_delay) {
    session.socket.setNoDelay(true);
  }
  session.on('error', function () {});
  session.on('close', function () {
    sessions.delete(session);
    if (config.redeliver_receipts && session.system_id !== undefined) {
      redeliverOwed(session);
    }
  });
  for (const mode of ['transmitter', 'receiver', 'transceiver']) {
    session.on('bind_' + mode, function (pdu) {
      onBind(mode, session, pdu);
    });
  }
  session.on('submit_sm', function (pdu) {
    onSubmit(session, pdu);
  });
  session.on('enquire_link', function (pdu) {
    stats.enquire_links++;
    if (!session.silent) {
      session.send(pdu.response());
    }
  });
  session.on('unbind', function (pdu) {
    stats.unbinds++;
    session.send(pdu.response());
    session.close();
  });
  session.on('deliver_sm_resp', function (pdu) {
    if (pdu.command_status !== 0) {
      stats.deliver_errors.push({sequence: pdu.sequence_number, status: pdu.command_status});
    }
  });
  session.on('generic_nack', function (pdu) {
    stats.nacks.push({sequence: pdu.sequence_number, status: pdu.command_status});
  });
  session.on('unknown', function (pdu) {
    stats.unknown_from_esme++;
    session.send(pdu.response());
  });
});

function deliver(session, spec) {
  return new Promise(function (resolve) {
    const options = {
      source_addr: spec.source, destination_addr: spec.dest,
      esm_class: spec.esm_class || 0, data_coding: spec.dc || 0,
      short_message: Buffer.from(spec.hex || '', 'hex'),
    };
    if (spec.ton !== undefined) {
      options.source_addr_ton = spec.ton;
    }
    if (spec.sar) {
      options.sar_msg_ref_num = spec.sar[0];
      options.sar_total_segments = spec.sar[1];
      options.sar_segment_seqnum = spec.sar[2];
    }
    if (spec.sequence !== undefined) {
      // The same PDU sent again (an operator re-sending a USSD "continue") keeps it.
      options.sequence_number = spec.sequence;
    }
    if (spec.ussd_op !== undefined) {
      options.ussd_service_op = spec.ussd_op;
      options.service_type = 'USSD';
    }
    if (spec.umr !== undefined && spec.umr !== null) {
      // Mica: the session is source_addr + user_message_reference.
      options.user_message_reference = spec.umr;
    }
    if (spec.session_info !== undefined && spec.session_info !== null) {
      const info = Buffer.alloc(2);
      info.writeUInt16BE(spec.session_info, 0);
      options.its_session_info = info;
    }
    const sentAt = nowMs();
    session.deliver_sm(options, function (resp) {
      resolve({status: resp.command_status, ms: nowMs() - sentAt, at: nowMs()});
    });
  });
}

async function handle(command) {
  switch (command.cmd) {
    case 'config':
      Object.assign(config, command.set || {});
      if (command.set && command.set.id_start !== undefined) {
        messageCounter = command.set.id_start; // a restarted SMSC counts from here again
      }
      for (const session of sessions) {
        if (session.bound && config.silent_after_bind) {
          session.silent = true;
        }
      }
      return {config: config};
    case 'stats':
      return {stats: stats, sessions: Array.from(sessions).filter((s) => s.bound).length,
        pending_parts: partial.size};
    case 'messages':
      return {messages: messages.slice(command.since || 0), count: messages.length};
    case 'submit_times':
      return {times: submitTimes};
    case 'mo': {
      const session = anyReceiver();
      if (!session) {
        return {error: 'no receiver bound'};
      }
      const results = [];
      for (const spec of command.pdus) {
        results.push(await deliver(session, spec));
      }
      return {results: results};
    }
    case 'ussd': {
      const session = anyReceiver();
      if (!session) {
        return {error: 'no receiver bound'};
      }
      let replied = null;
      const replyPromise = new Promise(function (resolve) {
        ussdWaiters.set(command.source, function (reply) {
          replied = nowMs();
          resolve(reply);
        });
      });
      const resp = await deliver(session, command);
      const result = {resp: resp, resp_before_reply: replied === null || resp.at <= replied};
      if (command.expect_reply === false) {
        ussdWaiters.delete(command.source);
        return result;
      }
      const timeout = new Promise((resolve) => setTimeout(resolve, command.timeout_ms || 5000, null));
      result.reply = await Promise.race([replyPromise, timeout]);
      return result;
    }
    case 'raw': {
      // Write raw bytes (hex) to every bound session: garbage, unknown commands.
      let written = 0;
      for (const session of sessions) {
        if (session.bound) {
          session.socket.write(Buffer.from(command.hex, 'hex'));
          written++;
        }
      }
      return {written: written};
    }
    case 'drop':
      for (const session of sessions) {
        session.socket.destroy();
      }
      return {};
    default:
      return {error: 'unknown command ' + command.cmd};
  }
}

const input = readline.createInterface({input: process.stdin});
input.on('line', function (line) {
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    emit({ok: false, error: 'bad json'});
    return;
  }
  handle(command).then(function (result) {
    emit(Object.assign({id: command.id, ok: !result.error}, result));
  }, function (error) {
    emit({id: command.id, ok: false, error: String(error)});
  });
});
input.on('close', function () {
  process.exit(0);
});

const lifetime = Number(option('lifetime', '600'));
setTimeout(function () {
  process.exit(3);
}, lifetime * 1000).unref();

server.listen(Number(option('port', '0')), '127.0.0.1', function () {
  emit({event: 'listening', port: server.address().port});
});
