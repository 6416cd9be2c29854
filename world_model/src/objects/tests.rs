//! Tests of the classifier, the blob counter and the measures.

use super::synth::*;
use super::*;

const H: usize = 48;
const W: usize = 64;

fn measure(frame: &[u8]) -> Vec<ObjectMeasure> {
    extract(frame, H, W, &colors(), BG).unwrap()
}

#[test]
fn discs_of_known_colours_give_exact_centroids_and_areas() {
    let mut f = filled(H, W, FLOOR);
    let red = disc(&mut f, H, W, (20.5, 15.5), 5.0, RED, |_, _| 1.0);
    let blue = disc(&mut f, H, W, (45.0, 30.0), 6.0, BLUE, |_, _| 1.0);
    let m = measure(&f);
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].name, "floor");
    assert_eq!(m[0].area, H * W - red - blue);
    assert_eq!(
        (m[1].area, m[1].blobs, m[1].largest_blob_area),
        (red, 1, red)
    );
    assert_eq!(m[1].centroid_xy, Some([20.5, 15.5]));
    assert_eq!((m[3].area, m[3].blobs), (blue, 1));
    assert_eq!(m[3].centroid_xy, Some([45.0, 30.0]));
    assert!(!m[2].present && m[2].centroid_xy.is_none() && m[2].blobs == 0);
    assert!(m[1].is_kept(red) && m[3].is_kept(blue));
}

#[test]
fn shaded_disc_is_still_classified_whole() {
    let mut f = filled(H, W, BG);
    // Lambert-like shading from 0.4 at the left edge to 1.0 at the right.
    let n = disc(&mut f, H, W, (30.5, 20.5), 8.0, GREEN, |x, _| {
        0.4 + 0.6 * (x as f32 - 22.0) / 17.0
    });
    let m = measure(&f);
    assert_eq!(m[2].area, n);
    assert_eq!(m[2].centroid_xy, Some([30.5, 20.5]));
    assert_eq!(m[0].area, 0, "the dark background is not the floor");
}

#[test]
fn shift_by_k_pixels_gives_centroid_error_k() {
    for k in [1usize, 3, 7] {
        let mut a = filled(H, W, FLOOR);
        let mut b = filled(H, W, FLOOR);
        disc(&mut a, H, W, (20.5, 20.5), 5.0, RED, |_, _| 0.8);
        disc(&mut b, H, W, (20.5 + k as f32, 20.5), 5.0, RED, |_, _| 0.8);
        let (ma, mb) = (measure(&a), measure(&b));
        let d = ma[1].centroid_distance(&mb[1]).unwrap();
        assert!((d - k as f32).abs() < 1e-4, "k {k}: {d}");
        assert!(mb[1].is_kept(ma[1].area));
    }
}

#[test]
fn frame_against_itself_has_zero_error_and_is_kept() {
    let mut f = filled(H, W, FLOOR);
    disc(&mut f, H, W, (10.0, 10.0), 4.0, RED, |_, _| 1.0);
    disc(&mut f, H, W, (40.0, 25.0), 4.5, GREEN, |_, _| 0.6);
    let (a, b) = (measure(&f), measure(&f));
    for (x, y) in a.iter().zip(&b).skip(1).filter(|(x, _)| x.present) {
        assert_eq!(x.centroid_distance(y), Some(0.0));
        assert!(y.is_kept(x.area));
    }
}

#[test]
fn heavily_blurred_disc_grows_and_is_not_kept_while_a_light_blur_is() {
    let mut f = filled(H, W, FLOOR);
    let area = disc(&mut f, H, W, (32.0, 24.0), 4.0, RED, |_, _| 1.0);
    let light = measure(&box_blur(&f, H, W, 1))[1].clone();
    assert!(light.is_kept(area), "light blur: {} vs {area}", light.area);
    let mut heavy = f.clone();
    for _ in 0..3 {
        heavy = box_blur(&heavy, H, W, 3);
    }
    let m = measure(&heavy)[1].clone();
    assert!(m.area > 2 * area, "blurred area {} vs {area}", m.area);
    assert!(!m.is_kept(area));
    let c = m.centroid_xy.unwrap();
    assert!((c[0] - 32.0).abs() < 0.5 && (c[1] - 24.0).abs() < 0.5);
}

#[test]
fn split_object_counts_blobs_and_specks_are_ignored_for_kept() {
    let mut f = filled(H, W, FLOOR);
    let a = disc(&mut f, H, W, (15.5, 15.5), 5.0, BLUE, |_, _| 1.0);
    let b = disc(&mut f, H, W, (45.5, 30.5), 5.0, BLUE, |_, _| 1.0);
    let m = measure(&f)[3].clone();
    assert_eq!(
        (m.blobs, m.area, m.blob_areas.clone()),
        (2, a + b, vec![a, b])
    );
    assert!(
        !m.is_kept(a),
        "two blobs of the true size are not one object"
    );
    let mut g = filled(H, W, FLOOR);
    let main = disc(&mut g, H, W, (15.5, 15.5), 5.0, BLUE, |_, _| 1.0);
    g[(40 * W + 50) * 3..(40 * W + 50) * 3 + 3].copy_from_slice(&BLUE);
    let m = measure(&g)[3].clone();
    assert_eq!(m.blobs, 2);
    assert!(
        m.is_kept(main),
        "a one-pixel speck does not count as a blob"
    );
}

#[test]
fn mixed_colours_and_wrong_sizes_are_handled_without_panics() {
    let palette = Palette::new(&colors(), BG, ClassifyParams::default());
    // Red and green mixed half and half is yellow: neither object.
    assert_eq!(palette.classify_pixel([130, 115, 35]), UNCLASSIFIED);
    assert_eq!(palette.classify_pixel([115, 15, 15]), 2, "dark red is red");
    assert_eq!(palette.classify_pixel([10, 10, 12]), super::BACKGROUND);
    assert_eq!(palette.classify_pixel([58, 61, 62]), 1, "floor");
    assert!(palette.is_chromatic(1) && !palette.is_chromatic(0));
    let err = extract(&[0u8; 10], H, W, &colors(), BG).unwrap_err();
    assert!(err.to_string().contains("9216"), "{err}");
}
