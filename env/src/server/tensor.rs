//! dm_env_rpc tensors and specs: packing observations, building the specs of a
//! world, and unpacking actions with the protocol's rules (exact dtype, a shape
//! with at most one inferred `-1` dimension, one-element payloads broadcast to
//! the shape, and inclusive bounds). A client's shape is checked against
//! [`MAX_TENSOR_RANK`] and [`MAX_TENSOR_ELEMENTS`] with checked arithmetic
//! before anything is sized by it.

use somnium_scenarios::{Action, Space};

use super::proto::{tensor, tensor_spec, DataType, Tensor, TensorSpec};
use super::ServerError;

/// Most dimensions a client's tensor shape may have.
pub const MAX_TENSOR_RANK: usize = 16;
/// Most elements a client's tensor shape may stand for.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 24;

/// The element type a tensor carries (`INVALID_DATA_TYPE` when none is set).
pub fn dtype_of(t: &Tensor) -> DataType {
    use tensor::Payload::*;
    match &t.payload {
        Some(Floats(_)) => DataType::Float,
        Some(Doubles(_)) => DataType::Double,
        Some(Int8s(_)) => DataType::Int8,
        Some(Int32s(_)) => DataType::Int32,
        Some(Int64s(_)) => DataType::Int64,
        Some(Uint8s(_)) => DataType::Uint8,
        Some(Uint32s(_)) => DataType::Uint32,
        Some(Uint64s(_)) => DataType::Uint64,
        Some(Bools(_)) => DataType::Bool,
        Some(Strings(_)) => DataType::String,
        Some(Protos(_)) => DataType::Proto,
        None => DataType::InvalidDataType,
    }
}

/// Number of elements in a tensor's payload.
pub fn payload_len(t: &Tensor) -> usize {
    use tensor::Payload::*;
    match &t.payload {
        Some(Floats(a)) => a.array.len(),
        Some(Doubles(a)) => a.array.len(),
        Some(Int8s(a)) => a.array.len(),
        Some(Int32s(a)) => a.array.len(),
        Some(Int64s(a)) => a.array.len(),
        Some(Uint8s(a)) => a.array.len(),
        Some(Uint32s(a)) => a.array.len(),
        Some(Uint64s(a)) => a.array.len(),
        Some(Bools(a)) => a.array.len(),
        Some(Strings(a)) => a.array.len(),
        Some(Protos(a)) => a.array.len(),
        None => 0,
    }
}

fn dims(shape: &[usize]) -> Vec<i32> {
    shape
        .iter()
        .map(|&d| i32::try_from(d).unwrap_or(i32::MAX))
        .collect()
}

/// A float32 tensor of `shape` (row-major `values`).
pub fn float_tensor(values: Vec<f32>, shape: &[usize]) -> Tensor {
    Tensor {
        payload: Some(tensor::Payload::Floats(tensor::FloatArray {
            array: values,
        })),
        shape: dims(shape),
    }
}

/// A uint8 tensor of `shape`, e.g. an RGB frame `[height, width, 3]`.
pub fn uint8_tensor(bytes: Vec<u8>, shape: &[usize]) -> Tensor {
    Tensor {
        payload: Some(tensor::Payload::Uint8s(tensor::Uint8Array { array: bytes })),
        shape: dims(shape),
    }
}

/// A scalar bool tensor.
pub fn bool_scalar(value: bool) -> Tensor {
    Tensor {
        payload: Some(tensor::Payload::Bools(tensor::BoolArray {
            array: vec![value],
        })),
        shape: Vec::new(),
    }
}

/// A scalar int64 tensor.
pub fn int64_scalar(value: i64) -> Tensor {
    Tensor {
        payload: Some(tensor::Payload::Int64s(tensor::Int64Array {
            array: vec![value],
        })),
        shape: Vec::new(),
    }
}

/// A string tensor of one element (scalar).
pub fn string_scalar(value: &str) -> Tensor {
    Tensor {
        payload: Some(tensor::Payload::Strings(tensor::StringArray {
            array: vec![value.to_string()],
        })),
        shape: Vec::new(),
    }
}

/// Clamp to the finite float32 range: protocol bounds must be finite values of the dtype.
fn finite(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(f32::MIN, f32::MAX)
    }
}

/// A float32 spec of `shape` with per-element bounds (`None` for unbounded).
pub fn float_spec(name: &str, shape: &[usize], bounds: Option<(&[f32], &[f32])>) -> TensorSpec {
    let value = |v: &[f32]| tensor_spec::Value {
        payload: Some(tensor_spec::value::Payload::Floats(tensor::FloatArray {
            array: v.iter().map(|&x| finite(x)).collect(),
        })),
    };
    TensorSpec {
        name: name.to_string(),
        shape: dims(shape),
        dtype: DataType::Float as i32,
        min: bounds.map(|(low, _)| value(low)),
        max: bounds.map(|(_, high)| value(high)),
    }
}

/// A uint8 spec of `shape` with bounds `0..=255`.
pub fn uint8_spec(name: &str, shape: &[usize]) -> TensorSpec {
    let value = |v: u8| tensor_spec::Value {
        payload: Some(tensor_spec::value::Payload::Uint8s(tensor::Uint8Array {
            array: vec![v],
        })),
    };
    TensorSpec {
        name: name.to_string(),
        shape: dims(shape),
        dtype: DataType::Uint8 as i32,
        min: Some(value(0)),
        max: Some(value(255)),
    }
}

/// A scalar spec of `dtype` without bounds (bools, rewards).
pub fn scalar_spec(name: &str, dtype: DataType) -> TensorSpec {
    TensorSpec {
        name: name.to_string(),
        shape: Vec::new(),
        dtype: dtype as i32,
        min: None,
        max: None,
    }
}

/// The action spec of an action space: a `Box` is a float32 tensor with
/// per-element bounds, a `Discrete(n)` an int64 scalar in `0..=n-1`.
pub fn action_spec(name: &str, space: &Space) -> TensorSpec {
    match space {
        Space::Box { low, high, shape } => float_spec(name, shape, Some((low, high))),
        Space::Discrete(n) => {
            let value = |v: i64| tensor_spec::Value {
                payload: Some(tensor_spec::value::Payload::Int64s(tensor::Int64Array {
                    array: vec![v],
                })),
            };
            TensorSpec {
                name: name.to_string(),
                shape: Vec::new(),
                dtype: DataType::Int64 as i32,
                min: Some(value(0)),
                max: Some(value(n.saturating_sub(1) as i64)),
            }
        }
    }
}

/// The shape a tensor stands for, with an inferred `-1` dimension resolved.
/// Checks that the payload either fills the shape or has one element
/// (broadcast), and that the shape stays within [`MAX_TENSOR_RANK`] dimensions
/// and [`MAX_TENSOR_ELEMENTS`] elements (no product can overflow).
pub fn resolve_shape(t: &Tensor, name: &str) -> Result<Vec<usize>, ServerError> {
    let bad = |reason: String| ServerError::BadAction {
        name: name.to_string(),
        reason,
    };
    if t.shape.len() > MAX_TENSOR_RANK {
        return Err(bad(format!(
            "shape has {} dimensions; at most {MAX_TENSOR_RANK} are allowed",
            t.shape.len()
        )));
    }
    let len = payload_len(t);
    if len > MAX_TENSOR_ELEMENTS {
        return Err(bad(format!(
            "{len} elements; at most {MAX_TENSOR_ELEMENTS} are allowed"
        )));
    }
    let negative = t.shape.iter().filter(|&&d| d < 0).count();
    if negative > 1 {
        return Err(bad(format!(
            "shape {:?} has more than one variable (negative) dimension",
            t.shape
        )));
    }
    if let Some(d) = t
        .shape
        .iter()
        .find(|&&d| d as i64 > MAX_TENSOR_ELEMENTS as i64)
    {
        return Err(bad(format!(
            "dimension {d} of shape {:?} is over the limit of {MAX_TENSOR_ELEMENTS} elements",
            t.shape
        )));
    }
    let sizes = t.shape.iter().filter_map(|&d| usize::try_from(d).ok());
    let known = if t.shape.contains(&0) {
        Some(0)
    } else {
        sizes.clone().try_fold(1usize, |n, d| {
            n.checked_mul(d).filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        })
    };
    let known = known.ok_or_else(|| {
        bad(format!(
            "shape {:?} stands for more than {MAX_TENSOR_ELEMENTS} elements",
            t.shape
        ))
    })?;
    if negative == 1 {
        if known == 0 || !len.is_multiple_of(known) {
            return Err(bad(format!(
                "{len} elements cannot fill shape {:?}",
                t.shape
            )));
        }
        let inferred = len / known;
        return Ok(t
            .shape
            .iter()
            .map(|&d| usize::try_from(d).unwrap_or(inferred))
            .collect());
    }
    if len != known && len != 1 {
        return Err(bad(format!(
            "{len} elements do not fill shape {:?} ({known} elements)",
            t.shape
        )));
    }
    Ok(sizes.collect())
}

fn dtype_name(d: DataType) -> &'static str {
    d.as_str_name()
}

/// Unpack the action tensor `t` for `space`: exact dtype (float32 for `Box`,
/// int64 for `Discrete`), exact shape, finite values, inside the bounds.
pub fn unpack_action(t: &Tensor, name: &str, space: &Space) -> Result<Action, ServerError> {
    let bad = |reason: String| ServerError::BadAction {
        name: name.to_string(),
        reason,
    };
    let out_of_range = |reason: String| ServerError::ActionOutOfRange {
        name: name.to_string(),
        reason,
    };
    let expected = match space {
        Space::Box { .. } => DataType::Float,
        Space::Discrete(_) => DataType::Int64,
    };
    let got = dtype_of(t);
    if got != expected {
        return Err(bad(format!(
            "dtype is {} but the spec says {}",
            dtype_name(got),
            dtype_name(expected)
        )));
    }
    let shape = resolve_shape(t, name)?;
    match (space, &t.payload) {
        (
            Space::Box {
                low,
                high,
                shape: spec_shape,
            },
            Some(tensor::Payload::Floats(a)),
        ) => {
            if &shape != spec_shape {
                return Err(bad(format!(
                    "shape {shape:?} but the spec says {spec_shape:?}"
                )));
            }
            let n: usize = spec_shape.iter().product();
            let values = if a.array.len() == 1 && n != 1 {
                vec![a.array[0]; n]
            } else {
                a.array.clone()
            };
            if let Some(i) = values.iter().position(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "element {i} is {} (actions must be finite)",
                    values[i]
                )));
            }
            for (i, ((x, l), h)) in values.iter().zip(low).zip(high).enumerate() {
                if x < l || x > h {
                    return Err(out_of_range(format!(
                        "element {i} is {x}, outside [{l}, {h}]"
                    )));
                }
            }
            Ok(Action::Continuous(values))
        }
        (Space::Discrete(n), Some(tensor::Payload::Int64s(a))) => {
            if !shape.is_empty() {
                return Err(bad(format!(
                    "shape {shape:?} but the spec says [] (a scalar)"
                )));
            }
            let v = a.array.first().copied().unwrap_or(-1);
            if v < 0 || v as u64 >= *n as u64 {
                return Err(out_of_range(format!(
                    "{v} is outside 0..={}",
                    n.saturating_sub(1)
                )));
            }
            Ok(Action::Discrete(v as usize))
        }
        _ => Err(bad("the payload does not match the spec".into())),
    }
}

#[cfg(test)]
#[path = "tensor_tests.rs"]
mod tests;
