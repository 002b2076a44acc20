// polkadot.js against a phala node: chain properties, a finalized transfer with its events and
// fee, both balances, and a failed over-balance transfer decoded as a named module error.
//
// usage: node transfer.mjs ws://127.0.0.1:9944
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { check, checkNoWarnings, deadline, rpc, submit } from './common.mjs';

const url = process.argv[2] ?? 'ws://127.0.0.1:9944';
const timer = deadline(120);
const api = await ApiPromise.create({ provider: new WsProvider(url), throwOnConnect: true, rpc });
const [chain, properties] = await Promise.all([api.rpc.system.chain(), api.rpc.system.properties()]);
check(properties.ss58Format.unwrap().toNumber() === 30, `ss58Format is ${properties.ss58Format}`);
check(properties.tokenDecimals.unwrap()[0].toNumber() === 12, `tokenDecimals is ${properties.tokenDecimals}`);
check(properties.tokenSymbol.unwrap()[0].toString() === 'PHA', `tokenSymbol is ${properties.tokenSymbol}`);
check(api.registry.chainSS58 === 30, `registry ss58 is ${api.registry.chainSS58}`);
check(api.consts.balances.existentialDeposit.toBigInt() > 0n, 'existential deposit missing');

const keyring = new Keyring({ type: 'sr25519', ss58Format: 30 });
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');
check(alice.address === '45R2pfjQUW2s9PQRHU48HQKLKHVMaDja7N3wpBtmF28UYDs2', `alice address ${alice.address}`);

const before = await api.query.system.account(bob.address);
const amount = 10n ** 12n; // 1 PHA

const transfer = api.tx.balances.transferKeepAlive(bob.address, amount);
const info = await transfer.paymentInfo(alice);
check(info.partialFee.toBigInt() > 0n, 'paymentInfo gave no fee');
const ok = await submit(transfer, alice);
check(!ok.dispatchError, `transfer failed: ${ok.dispatchError}`);
const transferEvent = ok.events.find(({ event }) => api.events.balances.Transfer.is(event));
check(transferEvent, 'no balances.Transfer event');
check(transferEvent.event.data.amount.toBigInt() === amount, 'wrong Transfer amount');
const feeEvent = ok.events.find(({ event }) => api.events.transactionPayment.TransactionFeePaid.is(event));
check(feeEvent, 'no TransactionFeePaid event');
const fee = feeEvent.event.data.actualFee.toBigInt();
check(fee > 0n, 'zero fee');
check(ok.events.some(({ event }) => api.events.system.ExtrinsicSuccess.is(event)), 'no ExtrinsicSuccess');

const [aliceAfter, bobAfter] = await Promise.all([
  api.query.system.account(alice.address),
  api.query.system.account(bob.address),
]);
check(bobAfter.data.free.toBigInt() === before.data.free.toBigInt() + amount, 'Bob did not receive the amount');

// A transfer of more than Alice has: included, fee paid, call failed with a named error.
const tooMuch = api.tx.balances.transferAllowDeath(bob.address, 10n ** 30n);
const failed = await submit(tooMuch, alice);
check(failed.dispatchError, 'over-balance transfer did not fail');
check(failed.dispatchError.isModule, `dispatch error is not a module error: ${failed.dispatchError}`);
const meta = api.registry.findMetaError(failed.dispatchError.asModule);
check(meta.section === 'balances', `error section is ${meta.section}`);
check(meta.name === 'InsufficientBalance', `error name is ${meta.name}`);

// The block holding the transfer carries its finality certificate, as a justification and
// through phala_getFinalityProof.
const signedBlock = await api.rpc.chain.getBlock(ok.status.asFinalized);
check(signedBlock.justifications.isSome, 'finalized block has no justification');
const [engine] = signedBlock.justifications.unwrap()[0];
check(Buffer.from(engine.toU8a()).toString() === 'smpx', `justification engine ${engine.toHex()}`);
const proof = (await api.rpc.phala.getFinalityProof(ok.status.asFinalized)).toJSON();
check(proof && proof.certificate.startsWith('0x'), `no finality proof: ${JSON.stringify(proof)}`);

// Storage iteration (state_getKeysPaged) sees the dev accounts.
const entries = await api.query.system.account.entries();
check(entries.length >= 6, `only ${entries.length} accounts listed`);

// A new head arrives through the subscription.
const head = await new Promise((resolve) => {
  let unsub;
  api.rpc.chain.subscribeNewHeads((h) => { if (unsub) unsub(); resolve(h); }).then((u) => { unsub = u; });
});
check(head.number.toNumber() > 0, 'no new head');

checkNoWarnings();

console.log(JSON.stringify({
  chain: chain.toString(),
  fee: fee.toString(),
  aliceFree: aliceAfter.data.free.toString(),
  bobFree: bobAfter.data.free.toString(),
  failedWith: `${meta.section}.${meta.name}`,
  accounts: entries.length,
}));
clearTimeout(timer);
await api.disconnect();
process.exit(0);
