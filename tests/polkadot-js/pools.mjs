// polkadot.js against a phala devnet: the economy's calls, storage and events as an app
// would use them, from metadata alone. Creates a stake pool, contributes, withdraws part,
// raises and cuts the commission; reads Computation's parameters and sessions; and sends a
// forged double-signing report, which the pool refuses.
//
// usage: node pools.mjs ws://127.0.0.1:9944
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { check, checkNoWarnings, deadline, fail, rpc, submit } from './common.mjs';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const timer = deadline(150);
const api = await ApiPromise.create({ provider: new WsProvider(url), throwOnConnect: true, rpc });
const keyring = new Keyring({ type: 'sr25519', ss58Format: 30 });
const dave = keyring.addFromUri('//Dave');
const eve = keyring.addFromUri('//Eve');
const PHA = 10n ** 12n;

function event(result, section, method) {
  const found = result.events.find(({ event: e }) => e.section === section && e.method === method);
  check(found, `no ${section}.${method} in ${result.events.map(({ event: e }) => `${e.section}.${e.method}`)}`);
  return found.event;
}

function ok(result, what) {
  if (result.dispatchError) {
    const detail = result.dispatchError.isModule
      ? (({ section, name }) => `${section}.${name}`)(api.registry.findMetaError(result.dispatchError.asModule))
      : result.dispatchError.toString();
    fail(`${what} failed: ${detail}`);
  }
}

// Every new call is in the metadata, named as Substrate apps expect.
for (const [section, call] of [
  ['stakePools', 'create'], ['stakePools', 'addWorker'], ['stakePools', 'contribute'],
  ['stakePools', 'withdraw'], ['stakePools', 'startComputing'], ['stakePools', 'stopComputing'],
  ['stakePools', 'reclaim'], ['stakePools', 'claimCommission'], ['stakePools', 'setCommission'],
  ['computation', 'reportDoubleSign'], ['computation', 'setParams'],
]) {
  check(api.tx[section]?.[call], `api.tx.${section}.${call} is missing`);
}

// A pool of Dave's with 10 % commission.
const count = (await api.query.stakePools.poolCount()).toNumber();
const created = await submit(api.tx.stakePools.create(100_000_000, null), dave);
ok(created, 'create');
const pid = event(created, 'stakePools', 'PoolCreated').data[0].toNumber();
check(pid === count, `pool id ${pid}, expected ${count}`);

// Eve contributes 1,000 PHA and gets 1,000 PHA of shares at the starting price.
const contributed = await submit(api.tx.stakePools.contribute(pid, 1000n * PHA), eve);
ok(contributed, 'contribute');
event(contributed, 'stakePools', 'Contributed');
const shares = (await api.query.stakePools.stakers([pid, eve.address])).toBigInt();
check(shares === 1000n * PHA, `Eve holds ${shares} shares`);
const pool = (await api.query.stakePools.pools(pid)).unwrap();
check(pool.owner.toString() === dave.address, `owner ${pool.owner}`);
check(pool.totalValue.toBigInt() === 1000n * PHA, `total value ${pool.totalValue}`);
check(pool.commission.toNumber() === 100_000_000, `commission ${pool.commission}`);

// She withdraws 400 shares: the free stake pays at once.
const withdrawn = await submit(api.tx.stakePools.withdraw(pid, 400n * PHA), eve);
ok(withdrawn, 'withdraw');
event(withdrawn, 'stakePools', 'Withdrawn');
check((await api.query.stakePools.stakers([pid, eve.address])).toBigInt() === 600n * PHA, 'shares after withdraw');

// A rise is scheduled, a cut is at once.
const raised = await submit(api.tx.stakePools.setCommission(pid, 500_000_000), dave);
ok(raised, 'raise');
const scheduled = event(raised, 'stakePools', 'CommissionScheduled');
const pending = (await api.query.stakePools.pools(pid)).unwrap().pendingCommission.unwrap();
check(pending[0].toNumber() === 500_000_000, `pending ${pending}`);
check(pending[1].toNumber() === scheduled.data.from.toNumber(), 'pending block');
const cut = await submit(api.tx.stakePools.setCommission(pid, 50_000_000), dave);
ok(cut, 'cut');
event(cut, 'stakePools', 'CommissionSet');
const afterCut = (await api.query.stakePools.pools(pid)).unwrap();
check(afterCut.commission.toNumber() === 50_000_000 && afterCut.pendingCommission.isNone, 'cut not at once');

// Computation's storage decodes: its parameters, sessions and counters.
const params = (await api.query.computation.params()).unwrap();
check(params.heartbeatWindow.toNumber() > 0, `heartbeat window ${params.heartbeatWindow}`);
check(params.treasuryPerbill.toNumber() === 200_000_000, `treasury share ${params.treasuryPerbill}`);
const sessions = await api.query.computation.sessions.entries();
const faults = (await api.query.computation.settlementFaults()).toNumber();
const slash = (await api.query.computation.doubleSignSlash()).toNumber();
check(slash === 100_000_000, `double-sign slash ${slash}`);

// A forged double-signing report (one message twice) is refused by the pool: unsigned
// and fee-free, it must prove itself.
const message = {
  message: { sender: { Worker: eve.publicKey }, destination: '0x5e78', payload: '0x01' },
  sequence: 0,
  signature: '0x' + '00'.repeat(64),
};
let refused = false;
try {
  await api.tx.computation.reportDoubleSign(message, message).send();
} catch (e) {
  refused = /Invalid|1010|bad signature|BadProof/i.test(String(e));
  if (!refused) fail(`unexpected refusal: ${e}`);
}
check(refused, 'a forged report was accepted');

checkNoWarnings();

console.log(JSON.stringify({
  pid,
  shares: shares.toString(),
  sessions: sessions.length,
  settlementFaults: faults,
  heartbeatWindow: params.heartbeatWindow.toNumber(),
  pools: 'ok',
}));
clearTimeout(timer);
await api.disconnect();
process.exit(0);
