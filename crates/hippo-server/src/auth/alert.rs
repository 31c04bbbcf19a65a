//! Security alerts: a break-glass elevation opening is announced at once, as a `warn` event
//! on the `security` log target that log shippers route to the on-call channel. Ids and times
//! only: never the stated reason (it is in the audit trail, redacted).

use crate::state::AppState;
use hippo_core::time_fmt::rfc3339;
use hippo_store::identity::{Emergency, SessionRow};

pub fn break_glass_opened(state: &AppState, row: &SessionRow, e: Emergency) {
    state.telemetry.signal(
        hippo_telemetry::Signal::BreakGlassOpened {
            tenant: row.tenant.as_str().to_owned(),
            user: row.user_id.clone(),
        },
        state.now_ms(),
    );
    tracing::warn!(
        target: "security",
        alert = "break_glass_opened",
        tenant = %row.tenant,
        user_id = %row.user_id,
        session = %row.session_id,
        until = %rfc3339(e.until_ms),
        "an emergency (break-glass) elevation was opened; review it with GET /v1/audit?log=access&action=breakglass.open"
    );
}
