use std::collections::BTreeMap;

use super::*;
use crate::dispatch::Origin;

#[test]
fn time_only_moves_forward_once_per_block() {
    let base = BTreeMap::new();
    let mut ext = Ext::new(&base);
    Call::set { now: 10 }
        .dispatch(&mut ext, Origin::None)
        .unwrap();
    assert_eq!(now(&ext), 10);
    assert!(
        Call::set { now: 20 }
            .dispatch(&mut ext, Origin::None)
            .is_err()
    );
    on_initialize(&mut ext);
    assert!(
        Call::set { now: 10 }
            .dispatch(&mut ext, Origin::None)
            .is_err()
    );
    assert!(
        Call::set { now: 11 }
            .dispatch(&mut ext, Origin::Root)
            .is_err()
    );
    Call::set { now: 11 }
        .dispatch(&mut ext, Origin::None)
        .unwrap();
}
