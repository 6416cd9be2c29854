//! Connected components (8-connected) of every label of a label image at once.

/// Areas of the 8-connected blobs of each label `1..=labels` (index `label - 1`),
/// each list sorted largest first. Labels outside `1..=labels` are ignored.
pub fn blob_areas(
    labels_img: &[u16],
    height: usize,
    width: usize,
    labels: usize,
) -> Vec<Vec<usize>> {
    let mut areas = vec![Vec::new(); labels];
    let mut seen = vec![false; labels_img.len()];
    let mut stack = Vec::new();
    for start in 0..labels_img.len().min(height * width) {
        let label = labels_img[start] as usize;
        if seen[start] || label == 0 || label > labels {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut area = 0;
        while let Some(i) = stack.pop() {
            area += 1;
            let (row, col) = (i / width, i % width);
            for dr in -1i64..=1 {
                for dc in -1i64..=1 {
                    let (r, c) = (row as i64 + dr, col as i64 + dc);
                    if r < 0 || c < 0 || r >= height as i64 || c >= width as i64 {
                        continue;
                    }
                    let j = r as usize * width + c as usize;
                    if !seen[j] && labels_img[j] as usize == label {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        areas[label - 1].push(area);
    }
    for list in &mut areas {
        list.sort_unstable_by(|a, b| b.cmp(a));
    }
    areas
}
