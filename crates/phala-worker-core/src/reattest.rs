//! When a registered worker refreshes its attestation. The chain refuses a worker's
//! messages once its attestation expires, so the worker re-attests well before that, on its
//! own, and says so on `/health` if it could not.

use phala_primitives::BlockNumber;
use phala_runtime::modules::registry::WorkerInfo;

/// Where a worker's proven registration stands at the verified head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attestation {
    Valid,
    /// The last quarter of its validity: time to re-attest.
    Due,
    /// Past its last valid block: the chain refuses the worker's messages.
    Expired {
        at: BlockNumber,
    },
}

/// Blocks before expiry at which a worker re-attests, at least.
const MIN_MARGIN: BlockNumber = 5;

pub fn status(registration: &WorkerInfo, head: BlockNumber) -> Attestation {
    if head > registration.expires_at {
        return Attestation::Expired {
            at: registration.expires_at,
        };
    }
    let validity = registration
        .expires_at
        .saturating_sub(registration.attested_at);
    let margin = (validity / 4).max(MIN_MARGIN);
    if head.saturating_add(margin) >= registration.expires_at {
        Attestation::Due
    } else {
        Attestation::Valid
    }
}

/// What `/health` says about an expired attestation.
pub fn expired_problem(at: BlockNumber) -> String {
    format!(
        "the attestation expired after block #{at}: the chain refuses this worker's messages \
         until it re-attests (it is re-attesting; see the log if this persists)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(attested_at: BlockNumber, expires_at: BlockNumber) -> WorkerInfo {
        WorkerInfo {
            attested_at,
            expires_at,
            ..Default::default()
        }
    }

    #[test]
    fn a_worker_re_attests_in_the_last_quarter_and_knows_when_it_expired() {
        let r = registered(100, 500);
        assert_eq!(status(&r, 100), Attestation::Valid);
        assert_eq!(status(&r, 399), Attestation::Valid);
        assert_eq!(status(&r, 400), Attestation::Due);
        assert_eq!(status(&r, 500), Attestation::Due);
        assert_eq!(status(&r, 501), Attestation::Expired { at: 500 });
        // A short validity still leaves a few blocks to get the new attestation in.
        assert_eq!(status(&registered(0, 20), 15), Attestation::Due);
        assert!(expired_problem(500).contains("#500"));
    }
}
