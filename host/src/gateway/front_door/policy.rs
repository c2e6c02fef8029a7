//! The tenant's front-door policy (a component of the world
//! `twoway:gateway/policy`, `[tenant.policy]`): run on each request before
//! it is sent and on the answer before the client gets it, each in a fresh
//! instance under the policy's limits. A configured policy that cannot run
//! (not loaded, trapped, out of time) fails closed: the client gets the
//! error, nothing is sent, no answer is given unchecked.

use std::sync::Arc;

use bytes::Bytes;

use super::errors::FrontDoorError;
use crate::gateway::Shared;
use crate::gateway::tenants::TenantRuntime;
use crate::plugin::{
    self, CallContext, FrontRequest, FrontResponse, Header, RequestDecision, ResponseDecision,
    Slot, Version,
};
use crate::problem::ProblemCode;
use crate::salesforce::Api;
use crate::upstream::{Answer, Forward};

/// The tenant's policy and its live version, when it has a policy.
pub(super) struct Policy {
    slot: Arc<Slot>,
    version: Arc<Version>,
    call: CallContext,
}

impl Policy {
    /// The policy of `tenant`: `Ok(None)` without one; an error when one is
    /// configured but no version of it has loaded.
    pub(super) fn of(
        shared: &Shared,
        tenant: &TenantRuntime,
    ) -> Result<Option<Self>, FrontDoorError> {
        let name = &tenant.config.name;
        let Some(slot) = shared.registry.policy(name) else {
            return Ok(None);
        };
        let Some(version) = slot.live() else {
            return Err(FrontDoorError::new(
                ProblemCode::PluginUnavailable,
                format!(
                    "tenant {name:?}: its policy {} has not loaded; see /admin/plugins",
                    slot.path.display()
                ),
            ));
        };
        let call = CallContext {
            tenant: name.clone(),
            workflow: plugin::POLICY_SLOT.into(),
            version: version.id.clone(),
            upstream: tenant.upstream.clone(),
            config: slot.config.clone(),
        };
        Ok(Some(Self {
            slot,
            version,
            call,
        }))
    }

    /// `forward` as the policy lets it go: unchanged, changed, or refused.
    pub(super) async fn on_request(
        &self,
        shared: &Shared,
        forward: Forward,
    ) -> Result<Forward, FrontDoorError> {
        let request = front_request(&forward)?;
        let decision = shared
            .registry
            .runtime()
            .on_request(&self.version, self.call.clone(), self.slot.limits, &request)
            .await
            .map_err(|e| failed(&e.problem()))?;
        match decision {
            RequestDecision::Pass => Ok(forward),
            RequestDecision::Refuse(why) => {
                Err(FrontDoorError::new(ProblemCode::PolicyRefused, why))
            }
            RequestDecision::Change(changed) => changed_request(forward, changed),
        }
    }

    /// `answer` to `forward` as the policy lets the client have it.
    pub(super) async fn on_response(
        &self,
        shared: &Shared,
        forward: &Forward,
        mut answer: Answer,
    ) -> Result<Answer, FrontDoorError> {
        let request = front_request(forward)?;
        let response = FrontResponse {
            status: answer.status,
            headers: headers(&answer.headers),
            body: answer.body.to_vec(),
        };
        let decision = shared
            .registry
            .runtime()
            .on_response(
                &self.version,
                self.call.clone(),
                self.slot.limits,
                &request,
                &response,
            )
            .await
            .map_err(|e| failed(&e.problem()))?;
        match decision {
            ResponseDecision::Pass => Ok(answer),
            ResponseDecision::Refuse(why) => {
                Err(FrontDoorError::new(ProblemCode::PolicyRefused, why))
            }
            ResponseDecision::Change(changed) => {
                answer.status = changed.status;
                answer.headers = header_map(&changed.headers)?;
                answer.body = Bytes::from(changed.body);
                Ok(answer)
            }
        }
    }
}

/// A policy that failed, as the client's error (its own code: trap, time, memory).
fn failed(problem: &crate::problem::Problem) -> FrontDoorError {
    FrontDoorError::new(
        problem.code,
        format!("the tenant's policy failed: {}", problem.detail),
    )
}

/// The request a policy sees.
/// What the policy sees of `forward`; an API the policy world cannot name
/// (SOAP tooling, Apex SOAP) is refused: a policy is never bypassed.
fn front_request(forward: &Forward) -> Result<FrontRequest, FrontDoorError> {
    let (path, query) = forward
        .path_and_query
        .split_once('?')
        .unwrap_or((forward.path_and_query.as_str(), ""));
    let Some(api) = wit_api(forward.api) else {
        return Err(FrontDoorError::new(
            ProblemCode::PolicyRefused,
            format!(
                "the tenant's policy cannot judge the {} API, so it is refused",
                forward.api
            ),
        ));
    };
    Ok(FrontRequest {
        api,
        method: forward.method.as_str().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: headers(&forward.headers),
        body: forward.body.to_vec(),
    })
}

/// `forward` with what the policy changed: method, headers and body; the
/// path and query only within the same API.
fn changed_request(mut forward: Forward, changed: FrontRequest) -> Result<Forward, FrontDoorError> {
    let broken = |why: String| {
        FrontDoorError::new(
            ProblemCode::PluginTrap,
            format!("the tenant's policy {why}"),
        )
    };
    if Some(changed.api) != wit_api(forward.api) {
        return Err(broken("changed the request's API".into()));
    }
    let path_and_query = match changed.query.as_str() {
        "" => changed.path.clone(),
        query => format!("{}?{query}", changed.path),
    };
    if path_and_query != forward.path_and_query {
        let same_api = super::route::normalise(&changed.path)
            .map(|p| super::route::route(&p))
            .is_some_and(|route| match route {
                super::route::Route::Soap { api, .. } | super::route::Route::Proxy { api, .. } => {
                    api == forward.api
                }
                _ => false,
            });
        if !same_api {
            return Err(broken(format!(
                "changed the path to {:?}, which is not the same API",
                changed.path
            )));
        }
        forward.path_and_query = path_and_query;
    }
    forward.method = http::Method::from_bytes(changed.method.as_bytes())
        .map_err(|_| broken(format!("changed the method to {:?}", changed.method)))?;
    forward.headers = header_map(&changed.headers)?;
    forward.body = Bytes::from(changed.body);
    Ok(forward)
}

fn headers(map: &http::HeaderMap) -> Vec<Header> {
    map.iter()
        .filter_map(|(name, value)| {
            value.to_str().ok().map(|v| Header {
                name: name.as_str().to_string(),
                value: v.to_string(),
            })
        })
        .collect()
}

fn header_map(headers: &[Header]) -> Result<http::HeaderMap, FrontDoorError> {
    let mut map = http::HeaderMap::new();
    for Header { name, value } in headers {
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) else {
            return Err(FrontDoorError::new(
                ProblemCode::PluginTrap,
                format!("the tenant's policy wrote an invalid header {name:?}"),
            ));
        };
        map.append(name, value);
    }
    Ok(map)
}

fn wit_api(api: Api) -> Option<plugin::Api> {
    Some(match api {
        Api::SoapPartner => plugin::Api::SoapPartner,
        Api::SoapEnterprise => plugin::Api::SoapEnterprise,
        Api::SoapMetadata => plugin::Api::SoapMetadata,
        Api::Rest => plugin::Api::Rest,
        Api::Bulk => plugin::Api::Bulk,
        Api::ApexRest => plugin::Api::ApexRest,
        Api::SoapTooling | Api::SoapApex => return None,
    })
}
