//! The signed-in person's tenants: which tenants they belong to and in which role, so that the
//! console can offer switching (a new sign-in naming the tenant, since a session and its second
//! factor are bound to one tenant).

use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use hippo_proto::{MembershipList, TenantMembership};

#[utoipa::path(get, path = "/v1/auth/tenants", tag = "auth",
    responses((status = 200, body = MembershipList), (status = 400, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn my_tenants(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<MembershipList>, ApiError> {
    let hash = super::signin::session_hash(&caller)?;
    let row = s
        .store
        .session(&hash)
        .await?
        .ok_or(ApiError::BadCredentials)?;
    // The person's own memberships: names of tenants and roles, no PHI, so not an audited
    // disclosure; the sign-in that follows a switch is audited as any sign-in.
    let user = s
        .store
        .user_for_login(&row.username)
        .await?
        .ok_or(ApiError::BadCredentials)?
        .user;
    let mut items: Vec<TenantMembership> = user
        .memberships
        .iter()
        .map(|m| TenantMembership {
            tenant: m.tenant.to_string(),
            role: m.role.to_string(),
            current: m.tenant == caller.principal.tenant,
        })
        .collect();
    items.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Ok(Json(MembershipList { items }))
}
