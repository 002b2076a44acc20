// polkadot.js against a phala devnet with an analytics site: a visitor's consent
// withdrawal, signed by the visitor's own ed25519 key, carried by an account that pays its
// fee (api.tx.analytics.withdrawConsent). Sent unsigned for free it needs the cluster's
// consent receipt, which only the (not yet built) analytics service hands out: without one,
// or with a forged statement, the node's pool refuses it.
//
// usage: node analytics.mjs ws://127.0.0.1:9944 <site id>
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { u8aConcat, stringToU8a, bnToU8a } from '@polkadot/util';
import { ed25519PairFromSeed, ed25519Sign, randomAsU8a } from '@polkadot/util-crypto';
import { check, checkNoWarnings, deadline, fail, rpc, submit } from './common.mjs';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const site = BigInt(process.argv[3] ?? '0');
const timer = deadline(90);
const api = await ApiPromise.create({ provider: new WsProvider(url), throwOnConnect: true, rpc });

const visitor = ed25519PairFromSeed(randomAsU8a(32));
const head = await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead());
const signedAt = head.number.toNumber();
// "phala/analytics/withdraw:" ‖ genesis ‖ SCALE(site: u64, VisitorKey::Ed25519(key), signed_at: u32)
const payload = u8aConcat(
  stringToU8a('phala/analytics/withdraw:'),
  api.genesisHash.toU8a(),
  bnToU8a(site, { bitLength: 64, isLe: true }),
  new Uint8Array([0]),
  visitor.publicKey,
  bnToU8a(signedAt, { bitLength: 32, isLe: true }),
);
const signature = ed25519Sign(payload, visitor);

// Free (unsigned) without a receipt, or forged: the node refuses it before any block.
const forged = signature.slice();
forged[0] ^= 1;
for (const [sig, what] of [[signature, 'without a receipt'], [forged, 'forged']]) {
  let refused = false;
  try {
    await api.tx.analytics.withdrawConsent(site, { Ed25519: visitor.publicKey }, signedAt, sig, null).send();
  } catch (e) {
    refused = /bad ?proof|Invalid|1010/i.test(String(e));
  }
  check(refused, `a free withdrawal ${what} was accepted`);
}

// Carried by Charlie, who pays the fee: no receipt needed.
const charlie = new Keyring({ type: 'sr25519', ss58Format: 30 }).addFromUri('//Charlie');
const result = await submit(
  api.tx.analytics.withdrawConsent(site, { Ed25519: visitor.publicKey }, signedAt, signature, null),
  charlie,
);
if (result.dispatchError) fail(`withdrawal failed: ${result.dispatchError.toString()}`);
const event = result.events.find(({ event: e }) => api.events.analytics.ConsentWithdrawn.is(e));
check(event, 'no analytics.ConsentWithdrawn');
check(event.event.data.site.toBigInt() === site, 'wrong site');
checkNoWarnings();
console.log(JSON.stringify({ site: site.toString(), visitor: '0x' + Buffer.from(visitor.publicKey).toString('hex') }));
clearTimeout(timer);
await api.disconnect();
process.exit(0);
