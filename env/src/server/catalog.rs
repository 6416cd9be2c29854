//! The scenario catalog, served through dm_env_rpc's standard *properties*
//! extension (`dm_env_rpc/v1/extensions/properties.proto`, sent as an
//! `extension` `Any`), so a client learns which scenarios and variants exist and
//! their rates from the server instead of keeping a copy. Python reads them with
//! `dm_env_rpc.v1.extensions.properties.PropertiesExtension`; no world is needed.
//!
//! The properties (all read-only; a key's children are listed under it):
//! - `catalog`: the whole catalog as one JSON string (a list of
//!   [`somnium_scenarios::ScenarioInfo`]: id, success rule, and per variant its
//!   name, `control_hz`, `render_fps`, `max_episode_steps` and `arena_size`);
//! - `scenarios`: the scenario ids (strings, `[N]`);
//! - `scenarios.<id>`: the id's variant names (strings);
//! - `scenarios.<id>.<variant>`: that variant as a JSON string;
//! - `scenarios.<id>.<variant>.render_fps` and `.control_hz` (float32 scalars).
//!
//! Unknown keys answer `NOT_FOUND`, writes `PERMISSION_DENIED`.

use std::sync::OnceLock;

use prost::Message;
use somnium_scenarios::{catalog, ScenarioInfo};

use super::proto::environment_response::Payload as Response;
use super::proto::{tensor, DataType, Tensor, TensorSpec};
use super::tensor::{float_tensor, scalar_spec, string_scalar};
use super::ServerError;

/// The `Any` type URL of a properties request.
pub const PROPERTY_REQUEST_URL: &str =
    "type.googleapis.com/dm_env_rpc.v1.extensions.properties.PropertyRequest";
/// The `Any` type URL of a properties response.
pub const PROPERTY_RESPONSE_URL: &str =
    "type.googleapis.com/dm_env_rpc.v1.extensions.properties.PropertyResponse";

/// The wire messages of `properties.proto` (package
/// `dm_env_rpc.v1.extensions.properties`), written out with prost's derive.
pub mod wire {
    use super::{Tensor, TensorSpec};

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PropertyRequest {
        #[prost(oneof = "RequestPayload", tags = "1, 2, 3")]
        pub payload: Option<RequestPayload>,
    }
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum RequestPayload {
        #[prost(message, tag = "1")]
        ReadProperty(KeyRequest),
        #[prost(message, tag = "2")]
        WriteProperty(WritePropertyRequest),
        #[prost(message, tag = "3")]
        ListProperty(KeyRequest),
    }
    /// `ReadPropertyRequest` and `ListPropertyRequest` (both one `key`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyRequest {
        #[prost(string, tag = "1")]
        pub key: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WritePropertyRequest {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Tensor>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PropertyResponse {
        #[prost(oneof = "ResponsePayload", tags = "1, 3")]
        pub payload: Option<ResponsePayload>,
    }
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum ResponsePayload {
        #[prost(message, tag = "1")]
        ReadProperty(ReadPropertyResponse),
        #[prost(message, tag = "3")]
        ListProperty(ListPropertyResponse),
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadPropertyResponse {
        #[prost(message, optional, tag = "1")]
        pub value: Option<Tensor>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListPropertyResponse {
        #[prost(message, repeated, tag = "1")]
        pub values: Vec<PropertySpec>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PropertySpec {
        #[prost(message, optional, tag = "1")]
        pub spec: Option<TensorSpec>,
        #[prost(bool, tag = "2")]
        pub is_readable: bool,
        #[prost(bool, tag = "3")]
        pub is_writable: bool,
        #[prost(bool, tag = "4")]
        pub is_listable: bool,
        #[prost(string, tag = "5")]
        pub description: String,
    }
}

use wire::{PropertyRequest, PropertyResponse, PropertySpec, RequestPayload, ResponsePayload};

/// The catalog, built once (it makes every variant of every scenario).
fn scenario_catalog() -> &'static [ScenarioInfo] {
    static CATALOG: OnceLock<Vec<ScenarioInfo>> = OnceLock::new();
    CATALOG.get_or_init(catalog)
}

/// One property: its value, element type, description and children's keys.
struct Node {
    value: Tensor,
    dtype: DataType,
    description: String,
    children: Vec<String>,
}

fn strings(values: Vec<String>) -> Tensor {
    let n = values.len() as i32;
    Tensor {
        payload: Some(tensor::Payload::Strings(tensor::StringArray {
            array: values,
        })),
        shape: vec![n],
    }
}

fn json_node(value: &impl serde::Serialize, description: String, children: Vec<String>) -> Node {
    let text = serde_json::to_string(value).unwrap_or_default();
    Node {
        value: string_scalar(&text),
        dtype: DataType::String,
        description,
        children,
    }
}

/// The property at `key` (`""` is the root, which has children but no value).
fn lookup(key: &str) -> Option<Node> {
    let cat = scenario_catalog();
    let parts: Vec<&str> = key.split('.').collect();
    let scenario = |id: &str| cat.iter().find(|s| s.id == id);
    let variant = |s: &'static ScenarioInfo, v: &str| s.variants.iter().find(|x| x.name == v);
    let rate = |name: &str, value: f32| Node {
        value: float_tensor(vec![value], &[]),
        dtype: DataType::Float,
        description: format!("{name} of {key}"),
        children: Vec::new(),
    };
    Some(match parts.as_slice() {
        [""] => Node {
            value: Tensor::default(),
            dtype: DataType::InvalidDataType,
            description: "the somnium server".into(),
            children: vec!["catalog".into(), "scenarios".into()],
        },
        ["catalog"] => json_node(
            &cat,
            "every scenario and variant, as JSON".into(),
            Vec::new(),
        ),
        ["scenarios"] => Node {
            value: strings(cat.iter().map(|s| s.id.clone()).collect()),
            dtype: DataType::String,
            description: "the registered scenario ids".into(),
            children: cat.iter().map(|s| format!("scenarios.{}", s.id)).collect(),
        },
        ["scenarios", id] => {
            let s = scenario(id)?;
            Node {
                value: strings(s.variants.iter().map(|v| v.name.clone()).collect()),
                dtype: DataType::String,
                description: format!("the variants of {id}"),
                children: s
                    .variants
                    .iter()
                    .map(|v| format!("{key}.{}", v.name))
                    .collect(),
            }
        }
        ["scenarios", id, v] => {
            let info = variant(scenario(id)?, v)?;
            let children = vec![format!("{key}.control_hz"), format!("{key}.render_fps")];
            json_node(info, format!("{id} variant {v}, as JSON"), children)
        }
        ["scenarios", id, v, "render_fps"] => {
            let info = variant(scenario(id)?, v)?;
            rate("frames per second", info.render_fps)
        }
        ["scenarios", id, v, "control_hz"] => {
            let info = variant(scenario(id)?, v)?;
            rate("control steps per second", info.control_hz)
        }
        _ => return None,
    })
}

fn status(code: tonic::Code, message: String) -> Response {
    Response::Error(tonic_types::Status {
        code: code as i32,
        message,
        details: Vec::new(),
    })
}

/// Answers an `extension` request: properties requests are served from the
/// catalog, any other extension is [`ServerError::Unsupported`].
pub(crate) fn handle_extension(any: prost_types::Any) -> Result<Response, ServerError> {
    if any.type_url != PROPERTY_REQUEST_URL {
        return Err(ServerError::Unsupported(format!(
            "the extension '{}'",
            any.type_url
        )));
    }
    let request =
        PropertyRequest::decode(any.value.as_slice()).map_err(|e| ServerError::BadSetting {
            name: "extension".into(),
            reason: format!("not a PropertyRequest: {e}"),
        })?;
    let not_found = |key: &str| status(tonic::Code::NotFound, format!("no property '{key}'"));
    let payload = match request.payload {
        None => return Err(ServerError::EmptyRequest),
        Some(RequestPayload::WriteProperty(w)) => {
            return Ok(status(
                tonic::Code::PermissionDenied,
                format!("property '{}' is read-only", w.key),
            ))
        }
        Some(RequestPayload::ReadProperty(r)) => match lookup(&r.key) {
            Some(node) if !r.key.is_empty() => {
                ResponsePayload::ReadProperty(wire::ReadPropertyResponse {
                    value: Some(node.value),
                })
            }
            _ => return Ok(not_found(&r.key)),
        },
        Some(RequestPayload::ListProperty(l)) => match lookup(&l.key) {
            Some(node) => ResponsePayload::ListProperty(wire::ListPropertyResponse {
                values: node
                    .children
                    .iter()
                    .filter_map(|k| lookup(k).map(|child| spec_of(k, &child)))
                    .collect(),
            }),
            None => return Ok(not_found(&l.key)),
        },
    };
    let response = PropertyResponse {
        payload: Some(payload),
    };
    Ok(Response::Extension(prost_types::Any {
        type_url: PROPERTY_RESPONSE_URL.into(),
        value: response.encode_to_vec(),
    }))
}

fn spec_of(key: &str, node: &Node) -> PropertySpec {
    PropertySpec {
        spec: Some(TensorSpec {
            shape: node.value.shape.clone(),
            ..scalar_spec(key, node.dtype)
        }),
        is_readable: true,
        is_writable: false,
        is_listable: !node.children.is_empty(),
        description: node.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(payload: RequestPayload) -> Response {
        let request = PropertyRequest {
            payload: Some(payload),
        };
        handle_extension(prost_types::Any {
            type_url: PROPERTY_REQUEST_URL.into(),
            value: request.encode_to_vec(),
        })
        .unwrap()
    }

    fn read(key: &str) -> Result<Tensor, i32> {
        let key = key.to_string();
        match ask(RequestPayload::ReadProperty(wire::KeyRequest { key })) {
            Response::Extension(any) => {
                assert_eq!(any.type_url, PROPERTY_RESPONSE_URL);
                match PropertyResponse::decode(any.value.as_slice())
                    .unwrap()
                    .payload
                {
                    Some(ResponsePayload::ReadProperty(r)) => Ok(r.value.unwrap()),
                    other => panic!("{other:?}"),
                }
            }
            Response::Error(e) => Err(e.code),
            other => panic!("{other:?}"),
        }
    }

    fn float(t: &Tensor) -> f32 {
        match &t.payload {
            Some(tensor::Payload::Floats(f)) => f.array[0],
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_server_reports_each_variants_render_fps() {
        assert_eq!(
            float(&read("scenarios.push-v0.coarse.render_fps").unwrap()),
            5.0
        );
        assert_eq!(
            float(&read("scenarios.push-v0.id.render_fps").unwrap()),
            15.0
        );
        assert_eq!(
            float(&read("scenarios.cartpole-v0.coarse.control_hz").unwrap()),
            12.5
        );
        let missing = read("scenarios.push-v0.huge.render_fps").unwrap_err();
        assert_eq!(missing, tonic::Code::NotFound as i32);
    }

    #[test]
    fn the_catalog_lists_every_scenario_and_parses_back() {
        let ids = match read("scenarios").unwrap().payload {
            Some(tensor::Payload::Strings(s)) => s.array,
            other => panic!("{other:?}"),
        };
        assert_eq!(ids, somnium_scenarios::SCENARIO_IDS);
        let text = match read("catalog").unwrap().payload {
            Some(tensor::Payload::Strings(s)) => s.array[0].clone(),
            other => panic!("{other:?}"),
        };
        let back: Vec<ScenarioInfo> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, catalog());
    }

    #[test]
    fn listing_walks_the_tree_and_writes_are_refused() {
        let key = "scenarios.push-v0".to_string();
        let Response::Extension(any) = ask(RequestPayload::ListProperty(wire::KeyRequest { key }))
        else {
            panic!("no listing")
        };
        let Some(ResponsePayload::ListProperty(list)) =
            PropertyResponse::decode(any.value.as_slice())
                .unwrap()
                .payload
        else {
            panic!("not a listing")
        };
        let keys: Vec<String> = list
            .values
            .iter()
            .map(|p| p.spec.as_ref().unwrap().name.clone())
            .collect();
        assert!(
            keys.contains(&"scenarios.push-v0.coarse".to_string()),
            "{keys:?}"
        );
        let write = wire::WritePropertyRequest {
            key: "catalog".into(),
            value: None,
        };
        let Response::Error(e) = ask(RequestPayload::WriteProperty(write)) else {
            panic!("a write was accepted")
        };
        assert_eq!(e.code, tonic::Code::PermissionDenied as i32);
        let other = handle_extension(prost_types::Any {
            type_url: "type.googleapis.com/some.Other".into(),
            value: Vec::new(),
        });
        assert!(matches!(other, Err(ServerError::Unsupported(_))));
    }
}
