use super::*;
use crate::RuntimeCall;
use crate::testing::{TestChain, pair};

#[test]
fn block_hashes_are_recorded_and_events_reset() {
    let mut chain = TestChain::new();
    chain.produce(vec![]);
    let ext = chain.ext();
    assert_eq!(block_number(&ext), 1);
    assert_eq!(block_hash(&ext, 0), Some(chain.hashes[0]));
    // Only the timestamp inherent's success event.
    assert_eq!(EVENTS.get_or_default(&ext).len(), 1);
}

#[test]
fn remark_with_event_emits_the_hash() {
    let mut chain = TestChain::new();
    let alice = pair("//Alice");
    let call = RuntimeCall::System(Call::remark_with_event {
        remark: b"hello".to_vec(),
    });
    let xt = chain.sign(&alice, call, 0);
    let (_, outcomes) = chain.produce(vec![xt]);
    assert_eq!(outcomes, vec![Ok(true)]);
    let events = chain.events_of(1);
    assert!(events.contains(&RuntimeEvent::System(Event::Remarked {
        sender: alice.account_id(),
        hash: phala_primitives::hashing::hash256(b"hello"),
    })));
}
