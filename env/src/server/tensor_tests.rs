//! Unit tests of [`super`]: unpacking actions by the protocol's rules, and
//! refusing shapes that are malformed, too large or would overflow.

use super::*;

fn box2() -> Space {
    Space::Box {
        low: vec![-1.0, -2.0],
        high: vec![1.0, 2.0],
        shape: vec![2],
    }
}

#[test]
fn unpacks_exact_inferred_and_broadcast_actions() {
    let a = unpack_action(&float_tensor(vec![0.5, -1.5], &[2]), "action", &box2()).unwrap();
    assert_eq!(a, Action::Continuous(vec![0.5, -1.5]));
    let mut inferred = float_tensor(vec![0.5, -1.5], &[2]);
    inferred.shape = vec![-1];
    assert_eq!(unpack_action(&inferred, "action", &box2()).unwrap(), a);
    let broadcast = float_tensor(vec![0.25], &[2]);
    assert_eq!(
        unpack_action(&broadcast, "action", &box2()).unwrap(),
        Action::Continuous(vec![0.25, 0.25])
    );
    let d = unpack_action(&int64_scalar(2), "action", &Space::Discrete(3)).unwrap();
    assert_eq!(d, Action::Discrete(2));
}

#[test]
fn rejects_wrong_dtype_shape_nan_and_bounds() {
    let doubles = Tensor {
        payload: Some(tensor::Payload::Doubles(tensor::DoubleArray {
            array: vec![0.0, 0.0],
        })),
        shape: vec![2],
    };
    let e = unpack_action(&doubles, "action", &box2()).unwrap_err();
    assert!(e.to_string().contains("DOUBLE"), "{e}");
    let e = unpack_action(&float_tensor(vec![0.0, 0.0], &[2, 1]), "action", &box2()).unwrap_err();
    assert!(e.to_string().contains("shape"), "{e}");
    let e = unpack_action(&float_tensor(vec![f32::NAN, 0.0], &[2]), "action", &box2()).unwrap_err();
    assert!(e.to_string().contains("finite"), "{e}");
    let e = unpack_action(&float_tensor(vec![0.0, 2.5], &[2]), "action", &box2()).unwrap_err();
    assert_eq!(e.code(), tonic::Code::OutOfRange);
    let e = unpack_action(&float_tensor(vec![0.0, 1.0, 2.0], &[3]), "action", &box2()).unwrap_err();
    assert!(e.to_string().contains("[2]"), "{e}");
    let e = unpack_action(&int64_scalar(3), "action", &Space::Discrete(3)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::OutOfRange);
    let e =
        unpack_action(&float_tensor(vec![1.0], &[]), "action", &Space::Discrete(3)).unwrap_err();
    assert!(e.to_string().contains("INT64"), "{e}");
}

#[test]
fn rejects_two_variable_dimensions_and_unfillable_shapes() {
    let mut t = float_tensor(vec![0.0; 4], &[2, 2]);
    t.shape = vec![-1, -1];
    assert!(resolve_shape(&t, "a").is_err());
    let t = float_tensor(vec![0.0; 3], &[2, 2]);
    assert!(resolve_shape(&t, "a").is_err());
    let mut t = float_tensor(vec![0.0; 3], &[2, 2]);
    t.shape = vec![-1, 2];
    assert!(resolve_shape(&t, "a").is_err());
}

#[test]
fn huge_and_overflowing_shapes_are_refused_by_name() {
    for shape in [
        vec![i32::MAX; 3],
        vec![65_536, 65_536],
        vec![-1, i32::MAX, i32::MAX, 2],
        vec![1; MAX_TENSOR_RANK + 1],
    ] {
        let mut t = float_tensor(vec![0.0], &[]);
        t.shape = shape.clone();
        let e = resolve_shape(&t, "action").unwrap_err();
        assert!(
            ["at most", "more than", "limit"]
                .iter()
                .any(|w| e.to_string().contains(w)),
            "{shape:?}: {e}"
        );
        let e = unpack_action(&t, "action", &box2()).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    }
    // a zero dimension makes an empty tensor, whatever the order of dimensions
    let mut t = float_tensor(vec![], &[]);
    t.shape = vec![0, i32::MAX];
    assert!(resolve_shape(&t, "a").is_err(), "each dimension is bounded");
    t.shape = vec![5, 0, 7];
    assert_eq!(resolve_shape(&t, "a").unwrap(), vec![5, 0, 7]);
    let mut t = float_tensor(vec![0.0; 6], &[]);
    t.shape = vec![2, -1];
    assert_eq!(resolve_shape(&t, "a").unwrap(), vec![2, 3]);
}

#[test]
fn specs_have_finite_bounds_of_their_dtype() {
    let s = float_spec(
        "state",
        &[1],
        Some((&[f32::NEG_INFINITY], &[f32::INFINITY])),
    );
    match s.min.and_then(|v| v.payload) {
        Some(tensor_spec::value::Payload::Floats(a)) => assert_eq!(a.array, vec![f32::MIN]),
        other => panic!("unexpected min {other:?}"),
    }
    let d = action_spec("action", &Space::Discrete(4));
    assert_eq!(d.dtype, DataType::Int64 as i32);
    match d.max.and_then(|v| v.payload) {
        Some(tensor_spec::value::Payload::Int64s(a)) => assert_eq!(a.array, vec![3]),
        other => panic!("unexpected max {other:?}"),
    }
}
