use phala_primitives::MultiAddress;

use super::*;
use crate::RuntimeEvent;
use crate::modules::registry::tests::dev_chain;
use crate::testing::{account, pair};

#[test]
fn the_key_can_be_handed_over_and_given_up() {
    let mut chain = dev_chain(true);
    let (alice, bob) = (pair("//Alice"), pair("//Bob"));
    let set = |who: &str| {
        RuntimeCall::Sudo(Call::set_key {
            new: MultiAddress::Id(account(who)),
        })
    };
    chain.produce(vec![
        chain.sign(&bob, set("//Bob"), 0),
        chain.sign(&alice, set("//Bob"), 0),
    ]);
    assert_eq!(chain.failure(1), Some(Error::RequireSudo.into()));
    assert_eq!(chain.failure(2), None);
    assert_eq!(KEY.get(&chain.ext()), Some(account("//Bob")));
    assert!(
        chain
            .events_of(2)
            .contains(&RuntimeEvent::Sudo(Event::KeyChanged {
                old: Some(account("//Alice")),
                new: account("//Bob"),
            }))
    );
    chain.produce(vec![chain.sign(
        &bob,
        RuntimeCall::Sudo(Call::remove_key),
        1,
    )]);
    assert_eq!(KEY.get(&chain.ext()), None);
    chain.produce(vec![chain.sign(&bob, set("//Bob"), 2)]);
    assert_eq!(chain.failure(1), Some(Error::RequireSudo.into()));
}
