use parity_scale_codec::{Decode, Encode};
use phala_mq::computation::ComputationEvent;
use phala_tokenomics::Params;
use scale_info::TypeInfo;

use super::{Error, Event, PARAMS, push};
use crate::Ext;
use crate::dispatch::{DispatchInfo, DispatchResult, Origin};
use crate::modules::weights;

/// Calls of the `Computation` module. Sessions are driven by their owners' module
/// (`StakePools`); this module's own call is root's.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Call {
    /// Set the economics' per-block parameters (root, until governance). Gatekeepers
    /// compute with them from the next block on.
    #[codec(index = 0)]
    set_params { params: Params },
}

impl Call {
    pub fn info(&self) -> DispatchInfo {
        DispatchInfo {
            weight: weights::reads_writes(1, 2),
            ..Default::default()
        }
    }

    pub fn dispatch(self, ext: &mut Ext, origin: Origin) -> DispatchResult {
        match self {
            Call::set_params { params } => {
                origin.ensure_root()?;
                params.check().map_err(|_| Error::BadParams)?;
                PARAMS.put(ext, &params);
                push(
                    ext,
                    &ComputationEvent::ParamsSet {
                        params: params.encode(),
                    },
                )?;
                ext.deposit_event(Event::ParamsSet);
                Ok(())
            }
        }
    }
}
