//! The tenant's front-door policy (a component of the world
//! `twoway:gateway/policy`, `[tenant.policy]`): run on each request before
//! it is sent and on the answer before the client gets it, both in one
//! fresh instance per request under the policy's limits (the host tells it
//! the request's operation; it may declare it does not judge the answer).
//! A configured policy that cannot run (not loaded, trapped, out of time)
//! fails closed: the client gets the error, nothing is sent, no answer is
//! given unchecked.

use std::sync::Arc;

use bytes::Bytes;

use super::errors::FrontDoorError;
use crate::gateway::Shared;
use crate::gateway::tenants::TenantRuntime;
use crate::plugin::{
    self, CallContext, FrontRequest, FrontResponse, Header, PolicyCall, RequestDecision,
    ResponseDecision, Slot, Version, wit_api,
};
use crate::problem::ProblemCode;
use crate::salesforce::Api;
use crate::upstream::{Answer, Forward};

/// The tenant's policy and its live version, when it has a policy; after
/// the request hook, the instance that judges the answer, unless the policy
/// declared it does not (`front-door.skip-response`).
pub(super) struct Policy {
    slot: Arc<Slot>,
    version: Arc<Version>,
    call: CallContext,
    /// The instance between the two hooks, and the request as it went.
    answer: Option<(PolicyCall, FrontRequest)>,
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
            answer: None,
        }))
    }

    /// `forward` as the policy lets it go: unchanged, changed, or refused.
    /// `soap_operation` is the operation the front door read from a SOAP
    /// envelope (the policy is told it rather than parsing the body).
    pub(super) async fn on_request(
        &mut self,
        shared: &Shared,
        forward: Forward,
        soap_operation: Option<String>,
    ) -> Result<Forward, FrontDoorError> {
        let request = front_request(&forward)?;
        let operation = soap_operation.or_else(|| rest_resource(&forward));
        let (decision, answer) = shared
            .registry
            .runtime()
            .on_request(
                &self.version,
                self.call.clone(),
                self.slot.limits,
                &request,
                operation,
            )
            .await
            .map_err(|e| failed(&e.problem()))?;
        let (forward, sent) = match decision {
            RequestDecision::Pass => (forward, request),
            RequestDecision::Refuse(why) => {
                return Err(FrontDoorError::new(ProblemCode::PolicyRefused, why));
            }
            RequestDecision::Change(changed) => (changed_request(forward, &changed)?, changed),
        };
        self.answer = answer.map(|answer| (answer, sent));
        Ok(forward)
    }

    /// True when the policy judges the answer (its request hook ran and did
    /// not skip the answer).
    pub(super) fn judges_answer(&self) -> bool {
        self.answer.is_some()
    }

    /// `answer` as the policy lets the client have it, judged in the
    /// instance that judged the request; as it is when the policy skipped it.
    pub(super) async fn on_response(
        &mut self,
        shared: &Shared,
        mut answer: Answer,
    ) -> Result<Answer, FrontDoorError> {
        let Some((policy, request)) = self.answer.take() else {
            return Ok(answer);
        };
        let response = FrontResponse {
            status: answer.status,
            headers: headers(&answer.headers),
            body: answer.body.to_vec(),
        };
        let decision = shared
            .registry
            .runtime()
            .on_response(policy, &request, &response)
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

/// What a REST or Apex REST request addresses: the first path segment
/// after `/services/data/v{version}/` (`query`, `sobjects`, `jobs`) or
/// after `/services/apexrest/` (WIT `front-door.operation`).
fn rest_resource(forward: &Forward) -> Option<String> {
    let path = forward
        .path_and_query
        .split_once('?')
        .map_or(forward.path_and_query.as_str(), |(path, _)| path);
    let rest = match forward.api {
        Api::Rest => path
            .strip_prefix("/services/data/")?
            .split_once('/')
            .map(|(_, rest)| rest)?,
        Api::ApexRest => path.strip_prefix("/services/apexrest/")?,
        _ => return None,
    };
    let resource = rest.split('/').next().filter(|r| !r.is_empty())?;
    Some(resource.to_string())
}

/// A policy that failed, as the client's error (its own code: trap, time, memory).
fn failed(problem: &crate::problem::Problem) -> FrontDoorError {
    FrontDoorError::new(
        problem.code,
        format!("the tenant's policy failed: {}", problem.detail),
    )
}

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
fn changed_request(
    mut forward: Forward,
    changed: &FrontRequest,
) -> Result<Forward, FrontDoorError> {
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
    forward.body = Bytes::copy_from_slice(&changed.body);
    // Split where the session goes from the body as it came: the changed
    // body is checked and split again upstream.
    forward.prepared = None;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(operation: &str) -> Bytes {
        Bytes::from(format!(
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:{operation}/></soapenv:Body></soapenv:Envelope>"#
        ))
    }

    /// A request as the front door hands it to the policy: its envelope
    /// already split where the session goes.
    fn forward(body: Bytes) -> Forward {
        let doc = crate::xml::parse(&body).unwrap();
        let prepared = crate::salesforce::prepare_parsed(Api::SoapPartner, &body, &doc).unwrap();
        Forward {
            api: Api::SoapPartner,
            method: http::Method::POST,
            path_and_query: "/services/Soap/u/62.0".into(),
            headers: http::HeaderMap::new(),
            body: body.clone(),
            prepared: Some(prepared),
        }
    }

    /// A request the policy changes goes without the split the front door
    /// made of the envelope as it came (a request it passes keeps it): the
    /// changed body is split again upstream, so what goes is what the
    /// policy wrote.
    #[test]
    fn a_changed_request_drops_the_split_of_the_envelope_as_it_came() {
        let forward = forward(envelope("getUserInfo"));
        let mut changed = front_request(&forward).unwrap();
        changed.body = envelope("getServerTimestamp").to_vec();
        let sent = changed_request(forward.clone(), &changed).unwrap();
        assert!(
            sent.prepared.is_none(),
            "the split of the old body would send it"
        );
        assert_eq!(sent.body, envelope("getServerTimestamp"));
        assert!(forward.prepared.is_some());
    }
}
