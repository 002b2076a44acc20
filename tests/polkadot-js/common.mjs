// What every polkadot.js script here shares: failing loudly, a bounded run, phala's custom
// RPC described for polkadot.js, warnings collected, and submitting until finalized.
export const warnings = [];
const originalWarn = console.warn;
console.warn = (...args) => {
  warnings.push(args.map(String).join(' '));
  originalWarn(...args);
};

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

export function check(condition, message) {
  if (!condition) fail(message);
}

// Bounded: a hung node must not hang CI.
export function deadline(seconds) {
  return setTimeout(() => fail(`timed out after ${seconds} s`), seconds * 1000);
}

// phala's one custom RPC, described the way polkadot.js takes custom definitions.
export const rpc = {
  phala: {
    getFinalityProof: {
      description: 'The simplex finality certificate of a finalized block',
      params: [{ name: 'hash', type: 'BlockHash' }],
      type: 'Json',
    },
  },
};

// signAndSend until finalized; resolves with the finalized result (events included).
export function submit(tx, signer) {
  return new Promise((resolve, reject) => {
    let unsub;
    tx.signAndSend(signer, (result) => {
      if (result.status.isInvalid || result.status.isDropped || result.status.isUsurped) {
        reject(new Error(`transaction ${result.status.type}`));
      }
      if (result.status.isFinalized) {
        if (unsub) unsub();
        resolve(result);
      }
    }).then((u) => { unsub = u; }, reject);
  });
}

// polkadot.js's warnings that mean the metadata or extensions were not understood.
export function checkNoWarnings() {
  const bad = warnings.filter((w) => /not decorated|Unknown signed extensions|Not decorating|Unable to/.test(w));
  check(bad.length === 0, `polkadot.js warned: ${bad.join(' | ')}`);
}
