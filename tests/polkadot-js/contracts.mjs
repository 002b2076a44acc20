// polkadot.js reads what confidential contracts leave on chain: every event of every
// finalized block (Contracts events with sealed outputs among them), every extrinsic, the
// Contracts.Instances map and a contract's own account, all decoded from the metadata alone.
//
// usage: node contracts.mjs ws://127.0.0.1:9944 EXPECTED_INSTANCES
import { ApiPromise, WsProvider } from '@polkadot/api';

const [url, expected] = [process.argv[2], Number(process.argv[3])];
function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}
const deadline = setTimeout(() => fail('timed out after 120 s'), 120_000);

const api = await ApiPromise.create({ provider: new WsProvider(url), throwOnConnect: true, noInitWarn: true });
const head = await api.rpc.chain.getFinalizedHead();
const top = (await api.rpc.chain.getHeader(head)).number.toNumber();
const counts = {};
for (let n = 1; n <= top; n++) {
  const hash = await api.rpc.chain.getBlockHash(n);
  const at = await api.at(hash);
  for (const { event } of await at.query.system.events()) {
    const name = `${event.section}.${event.method}`;
    counts[name] = (counts[name] ?? 0) + 1;
    event.data.toHuman();
  }
  const block = await api.rpc.chain.getBlock(hash);
  for (const xt of block.block.extrinsics) xt.method.toHuman();
}
for (const name of ['contracts.CodeUploaded', 'contracts.Instantiated', 'contracts.CommandPushed',
  'contracts.CommandExecuted', 'contracts.ContractInstantiatedByContract']) {
  if (!counts[name]) fail(`no ${name} event decoded; saw ${JSON.stringify(counts)}`);
}
const instances = await api.query.contracts.instances.entries();
if (instances.length !== expected) fail(`${instances.length} Contracts.Instances, expected ${expected}`);
for (const [key, record] of instances) {
  const id = key.args[0].toHex();
  if (record.unwrap().status.toString() !== 'Active') fail(`${id} is ${record.unwrap().status}`);
  const account = await api.query.system.account(id);
  if (account.data.reserved.toBigInt() !== record.unwrap().storageDeposit.toBigInt()) {
    fail(`${id}: reserved ${account.data.reserved} but storageDeposit ${record.unwrap().storageDeposit}`);
  }
}
console.log(JSON.stringify({ blocks: top, events: counts, instances: instances.length }));
clearTimeout(deadline);
await api.disconnect();
