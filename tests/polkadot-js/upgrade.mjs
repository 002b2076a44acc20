// polkadot.js across a runtime upgrade: connected before the switch, it follows the new
// version when the chain switches (state_subscribeRuntimeVersion), re-reads the metadata,
// and signs a transaction after the switch with the new version, which the chain takes.
// Nothing here knows phala: it is what polkadot.js does for any Substrate chain.
//
// usage: node upgrade.mjs <ws url> <switch block> <new spec version>
// prints: {"before":…,"after":…,"metadataReads":…,"deposit":"…","callLen":…}
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { check, checkNoWarnings, deadline, fail, rpc, submit } from './common.mjs';

const [url, atArg, nextArg] = process.argv.slice(2);
const at = Number(atArg);
const next = Number(nextArg);
check(Number.isInteger(at) && Number.isInteger(next), 'usage: upgrade.mjs <url> <at> <next>');
const timer = deadline(240);

const provider = new WsProvider(url);
// Counts the metadata reads: polkadot.js must read it again when the version changes.
let metadataReads = 0;
const send = provider.send.bind(provider);
provider.send = (method, ...rest) => {
  if (method === 'state_getMetadata') metadataReads += 1;
  return send(method, ...rest);
};
const api = await ApiPromise.create({ provider, throwOnConnect: true, rpc });
const before = api.runtimeVersion.specVersion.toNumber();
check(before < next, `already at ${before}`);
const readsBefore = metadataReads;

await new Promise((resolve) => {
  api.rpc.chain.subscribeFinalizedHeads((head) => {
    if (head.number.toNumber() > at && api.runtimeVersion.specVersion.toNumber() === next) {
      resolve();
    }
  });
});
// The decorated API is rebuilt from the new metadata shortly after the version changes.
for (let i = 0; i < 50 && metadataReads === readsBefore; i += 1) {
  await new Promise((r) => setTimeout(r, 100));
}
check(metadataReads > readsBefore, 'polkadot.js did not read the metadata again');

// Signed with the new version (CheckSpecVersion): the chain refuses a stale one.
const keyring = new Keyring({ type: 'sr25519', ss58Format: 30 });
const charlie = keyring.addFromUri('//Charlie');
const reserved = async () => (await api.query.system.account(charlie.address)).data.reserved.toBigInt();
const r0 = await reserved();
const call = api.tx.system.remark('0x' + '08'.repeat(200)).method;
const result = await submit(api.tx.preimage.notePreimage(call.toHex()), charlie);
if (result.dispatchError) fail(`notePreimage failed: ${result.dispatchError.toString()}`);
const deposit = (await reserved()) - r0;
checkNoWarnings();
console.log(JSON.stringify({
  before,
  after: api.runtimeVersion.specVersion.toNumber(),
  metadataReads,
  deposit: deposit.toString(),
  callLen: call.encodedLength,
}));
clearTimeout(timer);
await api.disconnect();
process.exit(0);
