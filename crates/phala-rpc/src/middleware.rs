//! Per-call accounting: tells the node which method each call (batched or not) was for, so it
//! can count them.

use std::collections::HashSet;
use std::sync::Arc;

use jsonrpsee::server::middleware::rpc::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::Request;

/// Callback invoked with the method name of every call.
pub type OnCall = Arc<dyn Fn(&str) + Send + Sync>;

/// Name reported for methods this server does not serve: clients choose method names, and a
/// metric label per made-up name would grow without bound.
pub const UNKNOWN_METHOD: &str = "unknown";

#[derive(Clone)]
pub struct CallCounter<S> {
    pub service: S,
    pub on_call: Option<OnCall>,
    pub known: Arc<HashSet<&'static str>>,
}

impl<S> CallCounter<S> {
    fn count(&self, method: &str) {
        if let Some(on_call) = &self.on_call {
            match self.known.get(method) {
                Some(name) => on_call(name),
                None => on_call(UNKNOWN_METHOD),
            }
        }
    }
}

impl<S> RpcServiceT for CallCounter<S>
where
    S: RpcServiceT + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.count(request.method_name());
        self.service.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        // The inner service runs batch entries without passing them through `call` again.
        for entry in batch.iter() {
            if let Ok(BatchEntry::Call(request)) = entry {
                self.count(request.method_name());
            }
        }
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}
