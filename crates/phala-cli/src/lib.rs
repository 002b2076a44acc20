//! The `phala` command's library: every command, parsed arguments in and a validated plan
//! run, so that tests (and other programs) can run them in-process — a whole devnet among
//! them ([`devnet::DevnetPlan`], [`devnet::Devnet`]).
//!
//! [`args`] holds what commands share; commands never import one another.

/// `println!` that never panics: once stdout is closed (`phala balance //Bob | head -1`),
/// the rest of the output is dropped and the command ends normally.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::args::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::args::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod analytics_cmds;
pub mod analytics_report_cmds;
pub mod args;
pub mod block_cmds;
pub mod bridge_cmds;
pub mod client_cmds;
pub mod contract_cmds;
pub mod devnet;
mod devnet_analytics;
mod devnet_cluster;
mod devnet_computing;
pub mod explorer_cmds;
pub mod gov_cmds;
pub mod key_cmds;
pub mod node_cmds;
pub mod pool_cmds;
pub mod spec_cmds;
pub mod validator_cmds;
pub mod worker_cmds;
