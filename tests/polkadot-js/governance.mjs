// polkadot.js against a phala devnet: a referendum, end to end, with only the calls an
// OpenGov app makes — preimage.notePreimage, referenda.submit, referenda.placeDecisionDeposit,
// convictionVoting.vote — and referenda.referendumInfoFor to follow it. The proposal adds a
// measurement to the registry's allowlist as root; nothing else (no sudo) is used.
//
// usage: node governance.mjs ws://127.0.0.1:9944
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { blake2AsHex } from '@polkadot/util-crypto';
import { check, checkNoWarnings, deadline, fail, rpc, submit } from './common.mjs';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const timer = deadline(150);
const api = await ApiPromise.create({ provider: new WsProvider(url), throwOnConnect: true, rpc });
const keyring = new Keyring({ type: 'sr25519', ss58Format: 30 });
const [alice, bob, charlie, dave, eve] = ['//Alice', '//Bob', '//Charlie', '//Dave', '//Eve']
  .map((uri) => keyring.addFromUri(uri));
const PHA = 10n ** 12n;

function ok(result, what) {
  if (result.dispatchError) {
    const detail = result.dispatchError.isModule
      ? (({ section, name }) => `${section}.${name}`)(api.registry.findMetaError(result.dispatchError.asModule))
      : result.dispatchError.toString();
    fail(`${what} failed: ${detail}`);
  }
}

function event(result, section, method) {
  const found = result.events.find(({ event: e }) => e.section === section && e.method === method);
  check(found, `no ${section}.${method} in ${result.events.map(({ event: e }) => `${e.section}.${e.method}`)}`);
  return found.event;
}

// The proposal: a call too long to go inline, noted as a preimage.
const measurement = `0x${'ab'.repeat(24)}${Date.now().toString(16).padStart(16, '0')}`;
const proposal = api.tx.registry.addMeasurement(measurement).method;
const encoded = proposal.toHex();
const len = proposal.encodedLength;
const hash = blake2AsHex(encoded);
const noted = await submit(api.tx.preimage.notePreimage(encoded), bob);
ok(noted, 'notePreimage');
check(event(noted, 'preimage', 'Noted').data[0].toHex() === hash, 'Noted names another hash');

// Submitted for the root track, enacted one block after approval at the earliest.
const submitted = await submit(
  api.tx.referenda.submit({ system: 'Root' }, { Lookup: { hash, len } }, { After: 1 }),
  bob,
);
ok(submitted, 'submit');
const index = event(submitted, 'referenda', 'Submitted').data[0].toNumber();
ok(await submit(api.tx.referenda.placeDecisionDeposit(index), alice), 'placeDecisionDeposit');

// Five holders back it with conviction: well over half of the PHA that can vote.
const votes = await Promise.all([alice, charlie, dave, eve, bob].map((who) => submit(
  api.tx.convictionVoting.vote(index, { Standard: { vote: { aye: true, conviction: 'Locked1x' }, balance: 9_000_000n * PHA } }),
  who,
)));
votes.forEach((v, i) => ok(v, `vote ${i}`));

// Follow it until it is approved and the measurement is allowed.
let info;
for (;;) {
  info = (await api.query.referenda.referendumInfoFor(index)).unwrap();
  if (!info.isOngoing) break;
  await new Promise((r) => setTimeout(r, 500));
}
check(info.isApproved, `referendum ended as ${info.type}`);
for (;;) {
  const allowed = await api.query.registry.allowedMeasurements(measurement);
  if (allowed.isSome) break;
  await new Promise((r) => setTimeout(r, 500));
}

// The votes lock the PHA: Charlie cannot send what he voted with.
const locks = await api.query.balances.locks(charlie.address);
check(locks.some((l) => l.id.toUtf8() === 'pyconvot' && l.amount.toBigInt() === 9_000_000n * PHA),
  `Charlie's locks: ${locks.toString()}`);
// The tracks in the metadata are this chain's (a devnet decides in seconds), as stored.
const tracks = api.consts.referenda.tracks.map(([id, t]) => `${id}:${t.name}`);
check(tracks.includes('0:root'), `tracks: ${tracks}`);
const stored = (await api.query.referenda.params()).unwrap();
const rootConst = api.consts.referenda.tracks.find(([id]) => id.toNumber() === 0)[1];
check(rootConst.decisionPeriod.toNumber() === stored.tracks[0][1].decisionPeriod.toNumber(),
  `metadata's root decision period ${rootConst.decisionPeriod} is not the chain's ${stored.tracks[0][1].decisionPeriod}`);

checkNoWarnings();
clearTimeout(timer);
console.log(JSON.stringify({ governance: 'ok', index, measurement }));
await api.disconnect();
