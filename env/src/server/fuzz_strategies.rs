//! Proptest strategies for the request fuzzing of [`super::fuzz_tests`]: random
//! `EnvironmentRequest`s, valid requests with mutated fields (oneofs, shapes,
//! payloads, uids, names, settings), and the valid requests' bytes with
//! mutations (bit flips, cuts, inserted and overwritten bytes).

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::select;
use prost::Message;

use super::proto::environment_request::Payload as Request;
use super::proto::{
    tensor, CreateWorldRequest, DestroyWorldRequest, EnvironmentRequest, JoinWorldRequest,
    LeaveWorldRequest, ResetRequest, ResetWorldRequest, StepRequest, Tensor,
};
use super::tensor::{float_tensor, int64_scalar, string_scalar};

/// A world name that the fuzz driver replaces with the last world it created.
pub(super) const LAST_WORLD: &str = "@last";

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["", "x", "fake-v0", "../..", "models/tiny", "é\u{0}"]).prop_map(String::from),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
    ]
}

fn shape() -> impl Strategy<Value = Vec<i32>> {
    let dim = prop_oneof![4 => -1i32..4, 1 => any::<i32>(), 1 => Just(i32::MAX)];
    prop::collection::vec(dim, 0..5)
}

/// Any tensor: every payload kind (or none), odd lengths, odd shapes, non-finite floats.
pub(super) fn any_tensor() -> impl Strategy<Value = Tensor> {
    use tensor::Payload as P;
    let n = 0..6usize;
    let payload = prop_oneof![
        prop::collection::vec(any::<f32>(), n.clone())
            .prop_map(|array| P::Floats(tensor::FloatArray { array })),
        prop::collection::vec(any::<f64>(), n.clone())
            .prop_map(|array| P::Doubles(tensor::DoubleArray { array })),
        prop::collection::vec(any::<u8>(), n.clone())
            .prop_map(|array| P::Int8s(tensor::Int8Array { array })),
        prop::collection::vec(any::<i32>(), n.clone())
            .prop_map(|array| P::Int32s(tensor::Int32Array { array })),
        prop::collection::vec(any::<i64>(), n.clone())
            .prop_map(|array| P::Int64s(tensor::Int64Array { array })),
        prop::collection::vec(any::<u8>(), n.clone())
            .prop_map(|array| P::Uint8s(tensor::Uint8Array { array })),
        prop::collection::vec(any::<u32>(), n.clone())
            .prop_map(|array| P::Uint32s(tensor::Uint32Array { array })),
        prop::collection::vec(any::<u64>(), n.clone())
            .prop_map(|array| P::Uint64s(tensor::Uint64Array { array })),
        prop::collection::vec(any::<bool>(), n.clone())
            .prop_map(|array| P::Bools(tensor::BoolArray { array })),
        prop::collection::vec(text(), n)
            .prop_map(|array| P::Strings(tensor::StringArray { array })),
    ];
    (prop::option::of(payload), shape()).prop_map(|(payload, shape)| Tensor { payload, shape })
}

/// A plausible value for the CreateWorld setting `key` (valid or nearly so).
fn plausible(key: &'static str) -> BoxedStrategy<Tensor> {
    let strings = |v: Vec<&'static str>| select(v).prop_map(string_scalar).boxed();
    match key {
        "scenario" => strings(vec!["fake-v0", "bounce-v0", "cartpole-v0", "nope-v0"]),
        "variant" => strings(vec!["id", "ood", "coarse", "warp"]),
        "backend" => strings(vec!["physics", "dream", "warp"]),
        "model" => strings(vec![
            "tiny",
            "models/tiny",
            "empty",
            "../models/tiny",
            "/etc/passwd",
            "",
            "tiny/../../x",
        ]),
        "width" | "height" => select(vec![0i64, 1, 8, 16, 513, -1])
            .prop_map(int64_scalar)
            .boxed(),
        _ => any::<i64>().prop_map(int64_scalar).boxed(),
    }
}

/// Settings from a pool of known and unknown keys, each plausible or any tensor.
fn world_settings() -> impl Strategy<Value = HashMap<String, Tensor>> {
    let keys = [
        "scenario", "variant", "seed", "backend", "model", "width", "height", "colour",
    ];
    let entries: Vec<_> = keys
        .iter()
        .map(|&k| {
            let value = prop_oneof![4 => plausible(k), 1 => any_tensor()];
            prop::option::weighted(0.5, value).prop_map(move |v| v.map(|v| (k.to_string(), v)))
        })
        .collect();
    entries.prop_map(|e| e.into_iter().flatten().collect())
}

fn seed_settings() -> impl Strategy<Value = HashMap<String, Tensor>> {
    let value = prop_oneof![any::<i64>().prop_map(int64_scalar), any_tensor()];
    prop::collection::hash_map(
        select(vec!["seed", "level"]).prop_map(String::from),
        value,
        0..2,
    )
}

fn world_name() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just(LAST_WORLD.to_string()), 1 => text()]
}

fn action() -> impl Strategy<Value = Tensor> {
    let valid = (-1.0f32..=1.0, -1.0f32..=1.0).prop_map(|(x, y)| float_tensor(vec![x, y], &[2]));
    prop_oneof![3 => valid, 1 => any::<i64>().prop_map(int64_scalar), 2 => any_tensor()]
}

fn step() -> impl Strategy<Value = StepRequest> {
    let uid = prop_oneof![4 => 1u64..=6, 1 => any::<u64>()];
    (
        prop::collection::hash_map(
            prop_oneof![4 => Just(1u64), 1 => any::<u64>()],
            action(),
            0..3,
        ),
        prop::collection::vec(uid, 0..8),
    )
        .prop_map(|(actions, requested_observations)| StepRequest {
            actions,
            requested_observations,
        })
}

/// The `Any` type URL of the properties extension's requests (the catalog).
const PROPERTY_REQUEST_URL: &str =
    "type.googleapis.com/dm_env_rpc.v1.extensions.properties.PropertyRequest";

/// An extension request: a properties request (read, write or list a key; or
/// random bytes) or another type URL.
fn extension() -> impl Strategy<Value = prost_types::Any> {
    let key = prop_oneof![
        select(vec![
            "",
            "catalog",
            "scenarios",
            "scenarios.push-v0",
            "scenarios.push-v0.id.control_hz",
            "nope"
        ])
        .prop_map(String::from),
        text(),
    ];
    // PropertyRequest { oneof: 1 read, 2 write, 3 list } around a message whose field 1 is the key
    let property = (1u32..=3, key).prop_map(|(case, key)| {
        let mut inner = Vec::new();
        prost::encoding::string::encode(1, &key, &mut inner);
        let mut value = Vec::new();
        prost::encoding::encode_key(case, prost::encoding::WireType::LengthDelimited, &mut value);
        prost::encoding::encode_varint(inner.len() as u64, &mut value);
        value.extend(inner);
        value
    });
    let value = prop_oneof![3 => property, 1 => prop::collection::vec(any::<u8>(), 0..16)];
    let url = prop_oneof![3 => Just(PROPERTY_REQUEST_URL.to_string()), 1 => text()];
    (url, value).prop_map(|(type_url, value)| prost_types::Any { type_url, value })
}

/// Any request: every oneof case (and none), with random fields.
pub(super) fn any_request() -> impl Strategy<Value = EnvironmentRequest> {
    let payload = prop_oneof![
        1 => world_settings().prop_map(|settings| Request::CreateWorld(CreateWorldRequest { settings })),
        1 => (world_name(), seed_settings())
            .prop_map(|(world_name, settings)| Request::JoinWorld(JoinWorldRequest { world_name, settings })),
        4 => step().prop_map(Request::Step),
        1 => seed_settings().prop_map(|settings| Request::Reset(ResetRequest { settings })),
        1 => (world_name(), seed_settings())
            .prop_map(|(world_name, settings)| Request::ResetWorld(ResetWorldRequest { world_name, settings })),
        1 => Just(Request::LeaveWorld(LeaveWorldRequest {})),
        1 => world_name().prop_map(|world_name| Request::DestroyWorld(DestroyWorldRequest { world_name })),
        1 => extension().prop_map(Request::Extension),
    ];
    prop::option::weighted(0.97, payload).prop_map(|payload| EnvironmentRequest { payload })
}

/// Valid requests of a session's life: create a world (a fake physics one,
/// or a dream of the tiny model), join it, step, reset, leave, destroy.
pub(super) fn valid_requests(dream: bool) -> Vec<EnvironmentRequest> {
    let world = if dream {
        HashMap::from([
            ("scenario".to_string(), string_scalar("bounce-v0")),
            ("backend".to_string(), string_scalar("dream")),
            ("model".to_string(), string_scalar("tiny")),
            ("seed".to_string(), int64_scalar(3)),
        ])
    } else {
        HashMap::from([
            ("scenario".to_string(), string_scalar("fake-v0")),
            ("width".to_string(), int64_scalar(16)),
            ("seed".to_string(), int64_scalar(3)),
        ])
    };
    let seed = HashMap::from([("seed".to_string(), int64_scalar(5))]);
    let name = LAST_WORLD.to_string();
    let step = StepRequest {
        actions: HashMap::from([(1, float_tensor(vec![0.5, -0.25], &[2]))]),
        // a dream has no state (uid 2)
        requested_observations: if dream {
            vec![1, 3, 4, 5, 6]
        } else {
            vec![1, 2, 3, 4, 5, 6]
        },
    };
    [
        Request::CreateWorld(CreateWorldRequest { settings: world }),
        Request::JoinWorld(JoinWorldRequest {
            world_name: name.clone(),
            settings: HashMap::new(),
        }),
        Request::Step(step.clone()),
        Request::Step(step),
        Request::Reset(ResetRequest {
            settings: seed.clone(),
        }),
        Request::ResetWorld(ResetWorldRequest {
            world_name: name.clone(),
            settings: seed,
        }),
        Request::LeaveWorld(LeaveWorldRequest {}),
        Request::DestroyWorld(DestroyWorldRequest { world_name: name }),
    ]
    .into_iter()
    .map(|p| EnvironmentRequest { payload: Some(p) })
    .collect()
}

/// One change to a valid request.
#[derive(Clone, Debug)]
pub(super) enum FieldMutation {
    /// Put this request's fields under another oneof case (its bytes re-read as that case).
    SwapOneof(u8),
    /// Replace the shape of every tensor in the request.
    Shape(Vec<i32>),
    /// Replace every tensor of the request.
    Tensor(Tensor),
    /// Re-key the step's actions and requested observations with this uid.
    Uid(u64),
    /// Rename the world the request names.
    Name(String),
    /// Add a setting.
    Setting(String, Tensor),
}

pub(super) fn field_mutation() -> impl Strategy<Value = FieldMutation> {
    prop_oneof![
        (1u8..=16).prop_map(FieldMutation::SwapOneof),
        shape().prop_map(FieldMutation::Shape),
        any_tensor().prop_map(FieldMutation::Tensor),
        any::<u64>().prop_map(FieldMutation::Uid),
        text().prop_map(FieldMutation::Name),
        (text(), any_tensor()).prop_map(|(k, v)| FieldMutation::Setting(k, v)),
    ]
}

/// One change to a request's bytes; positions are taken modulo the length.
#[derive(Clone, Debug)]
pub(super) enum ByteMutation {
    FlipBit(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Overwrite(usize, u8),
    DuplicateTail(usize),
}

pub(super) fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| ByteMutation::FlipBit(i, b)),
        1 => any::<usize>().prop_map(ByteMutation::Cut),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, b)| ByteMutation::Insert(i, b)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| ByteMutation::Overwrite(i, b)),
        1 => any::<usize>().prop_map(ByteMutation::DuplicateTail),
    ]
}

/// `bytes` with `mutations` applied in order.
pub(super) fn mutate_bytes(mut bytes: Vec<u8>, mutations: &[ByteMutation]) -> Vec<u8> {
    for m in mutations {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match m {
            ByteMutation::FlipBit(i, b) if !bytes.is_empty() => {
                let i = at(*i, bytes.len());
                bytes[i] ^= 1 << b;
            }
            ByteMutation::Cut(i) => bytes.truncate(at(*i, bytes.len())),
            ByteMutation::Insert(i, b) => {
                let i = at(*i, bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            ByteMutation::Overwrite(i, b) if !bytes.is_empty() => {
                let i = at(*i, bytes.len());
                bytes[i] = *b;
            }
            ByteMutation::DuplicateTail(i) => {
                let tail = bytes[at(*i, bytes.len())..].to_vec();
                bytes.extend(tail);
            }
            _ => {}
        }
    }
    bytes
}

/// The encoding of `request`.
pub(super) fn encode(request: &EnvironmentRequest) -> Vec<u8> {
    request.encode_to_vec()
}

/// Every tensor a request carries (settings and actions).
fn tensors_mut(request: &mut EnvironmentRequest) -> Vec<&mut Tensor> {
    match &mut request.payload {
        Some(Request::CreateWorld(r)) => r.settings.values_mut().collect(),
        Some(Request::JoinWorld(r)) => r.settings.values_mut().collect(),
        Some(Request::Step(r)) => r.actions.values_mut().collect(),
        Some(Request::Reset(r)) => r.settings.values_mut().collect(),
        Some(Request::ResetWorld(r)) => r.settings.values_mut().collect(),
        _ => Vec::new(),
    }
}

/// `request` with `m` applied; `None` when the change leaves no decodable request.
pub(super) fn mutate_fields(
    mut request: EnvironmentRequest,
    m: &FieldMutation,
) -> Option<EnvironmentRequest> {
    match m {
        FieldMutation::SwapOneof(field) => {
            let bytes = encode(&request);
            let mut swapped = Vec::with_capacity(bytes.len() + 1);
            prost::encoding::encode_key(
                u32::from(*field),
                prost::encoding::WireType::LengthDelimited,
                &mut swapped,
            );
            // the first byte is the key of the payload's field (all fit in one byte)
            swapped.extend_from_slice(bytes.get(1..).unwrap_or_default());
            return EnvironmentRequest::decode(swapped.as_slice()).ok();
        }
        FieldMutation::Shape(shape) => tensors_mut(&mut request)
            .into_iter()
            .for_each(|t| t.shape = shape.clone()),
        FieldMutation::Tensor(new) => tensors_mut(&mut request)
            .into_iter()
            .for_each(|t| *t = new.clone()),
        FieldMutation::Uid(uid) => {
            if let Some(Request::Step(r)) = &mut request.payload {
                r.actions = r.actions.drain().map(|(_, t)| (*uid, t)).collect();
                r.requested_observations.push(*uid);
            }
        }
        FieldMutation::Name(name) => match &mut request.payload {
            Some(Request::JoinWorld(r)) => r.world_name = name.clone(),
            Some(Request::ResetWorld(r)) => r.world_name = name.clone(),
            Some(Request::DestroyWorld(r)) => r.world_name = name.clone(),
            _ => {}
        },
        FieldMutation::Setting(key, value) => match &mut request.payload {
            Some(Request::CreateWorld(r)) => drop(r.settings.insert(key.clone(), value.clone())),
            Some(Request::JoinWorld(r)) => drop(r.settings.insert(key.clone(), value.clone())),
            Some(Request::Reset(r)) => drop(r.settings.insert(key.clone(), value.clone())),
            Some(Request::ResetWorld(r)) => drop(r.settings.insert(key.clone(), value.clone())),
            _ => {}
        },
    }
    Some(request)
}
