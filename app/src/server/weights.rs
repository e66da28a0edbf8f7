//! Reads `model.safetensors` tensor by tensor, front to back, each straight into its own
//! `f32` buffer.
//!
//! Reading the whole file into memory first (as candle's buffered loader does) and then
//! copying every tensor out of it briefly holds the weights three times over; with an
//! allocator that keeps freed pages for reuse (`server::ALLOCATOR`) that peak stayed
//! resident for the life of the process. Read this way the file's bytes land in the
//! buffers the encoder keeps, and the peak is the weights plus one tensor. Reading in
//! file order, never seeking, also loads from a pipe.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

/// Why the weights could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The file is not a valid safetensors file, or lacks what the model needs.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> WeightsError {
    WeightsError::Invalid(message.into())
}

/// The header's entry for one tensor.
#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// Element types the encoder accepts; every one is widened to `f32`.
#[derive(Clone, Copy)]
enum Dtype {
    F32,
    F16,
    Bf16,
}

impl Dtype {
    fn parse(name: &str) -> Option<Dtype> {
        match name {
            "F32" => Some(Dtype::F32),
            "F16" => Some(Dtype::F16),
            "BF16" => Some(Dtype::Bf16),
            _ => None,
        }
    }
}

/// Bytes per element of a safetensors dtype, `None` for one not in the format.
fn dtype_size(name: &str) -> Option<usize> {
    Some(match name {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" => 8,
        _ => return None,
    })
}

/// One tensor, widened to `f32`.
struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Every tensor of a safetensors file, by name.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    /// Tensors of other element types (such as BERT's integer `position_ids`), skipped:
    /// name to dtype, for the error should the encoder ask for one.
    skipped: HashMap<String, String>,
}

/// Refuses headers past this size: the format's own limit, and a guard against reading
/// a huge length from a file that is not safetensors at all.
const MAX_HEADER: usize = 100_000_000;

impl Weights {
    /// Reads the safetensors file at `path`.
    ///
    /// # Errors
    /// The file cannot be read, is truncated, or is not a safetensors file of float
    /// tensors.
    pub fn read(path: &Path) -> Result<Weights, WeightsError> {
        Weights::from_reader(std::fs::File::open(path)?)
    }

    /// Reads a safetensors stream.
    ///
    /// # Errors
    /// As [`Weights::read`].
    pub fn from_reader(reader: impl Read) -> Result<Weights, WeightsError> {
        let mut r = io::BufReader::with_capacity(1 << 20, reader);
        let mut len = [0u8; 8];
        read_exact(&mut r, &mut len, "the header length")?;
        let len = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .filter(|&n| n <= MAX_HEADER)
            .ok_or_else(|| invalid("not a safetensors file (header length out of range)"))?;
        let mut header = vec![0u8; len];
        read_exact(&mut r, &mut header, "the header")?;
        let mut entries: HashMap<String, serde_json::Value> = serde_json::from_slice(&header)
            .map_err(|e| invalid(format!("not a safetensors file (header: {e})")))?;
        entries.remove("__metadata__");
        let mut order = entries
            .into_iter()
            .map(|(name, value)| {
                let entry: Entry = serde_json::from_value(value)
                    .map_err(|e| invalid(format!("tensor `{name}`: {e}")))?;
                Ok((name, entry))
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        order.sort_by_key(|(_, e)| e.data_offsets[0]);

        let mut at = 0usize;
        let mut tensors = HashMap::with_capacity(order.len());
        let mut skipped = HashMap::new();
        for (name, entry) in order {
            let size = dtype_size(&entry.dtype).ok_or_else(|| {
                invalid(format!("tensor `{name}` has unknown dtype {}", entry.dtype))
            })?;
            let [start, end] = entry.data_offsets;
            let count: usize = entry.shape.iter().product();
            if start < at || end < start || end - start != count * size {
                return Err(invalid(format!(
                    "tensor `{name}`: data offsets {start}..{end} do not fit its shape {:?} \
                     and dtype {} (or overlap another tensor)",
                    entry.shape, entry.dtype
                )));
            }
            skip(
                &mut r,
                start - at,
                &format!("the file ends before tensor `{name}`"),
            )?;
            at = end;
            let Some(dtype) = Dtype::parse(&entry.dtype) else {
                let inside = format!("the file ends inside tensor `{name}`");
                skip(&mut r, count * size, &inside)?;
                skipped.insert(name, entry.dtype);
                continue;
            };
            let data = read_tensor(&mut r, dtype, count, &name)?;
            tensors.insert(
                name,
                Tensor {
                    shape: entry.shape,
                    data,
                },
            );
        }
        Ok(Weights { tensors, skipped })
    }

    /// Whether a tensor of that name exists.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name) || self.skipped.contains_key(name)
    }

    /// Takes the tensor `name` out, checking that it has `shape`.
    ///
    /// # Errors
    /// The tensor is missing or has another shape.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let Some(t) = self.tensors.remove(name) else {
            return Err(invalid(match self.skipped.get(name) {
                Some(dtype) => {
                    format!("tensor `{name}` has dtype {dtype}; expected F32, F16 or BF16")
                }
                None => format!("tensor `{name}` is missing"),
            }));
        };
        if t.shape != shape {
            return Err(invalid(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                t.shape
            )));
        }
        Ok(t.data)
    }
}

/// Reads past `bytes` bytes; `short` is the error should the stream end first.
fn skip(r: &mut impl Read, bytes: usize, short: &str) -> Result<(), WeightsError> {
    let bytes = bytes as u64;
    if io::copy(&mut r.take(bytes), &mut io::sink())? == bytes {
        Ok(())
    } else {
        Err(invalid(short))
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), WeightsError> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            invalid(format!("the file ends inside {what} (truncated?)"))
        } else {
            WeightsError::Io(e)
        }
    })
}

/// Reads `count` elements of `dtype` as `f32`: `F32` straight into the result, the
/// half-width types through a buffer of their own size.
fn read_tensor(
    r: &mut impl Read,
    dtype: Dtype,
    count: usize,
    name: &str,
) -> Result<Vec<f32>, WeightsError> {
    let what = format!("tensor `{name}`");
    match dtype {
        Dtype::F32 => {
            let mut data = vec![0f32; count];
            read_exact(r, bytemuck::cast_slice_mut(&mut data), &what)?;
            if cfg!(target_endian = "big") {
                for x in &mut data {
                    *x = f32::from_bits(u32::from_le(x.to_bits()));
                }
            }
            Ok(data)
        }
        Dtype::F16 | Dtype::Bf16 => {
            let mut raw = vec![0u8; count * 2];
            read_exact(r, &mut raw, &what)?;
            let halves = raw
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]));
            Ok(match dtype {
                Dtype::F16 => halves.map(|h| half::f16::from_bits(h).to_f32()).collect(),
                _ => halves.map(|h| f32::from_bits(u32::from(h) << 16)).collect(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file with the given header entries and data bytes.
    fn file(header: &serde_json::Value, data: &[u8]) -> Vec<u8> {
        let header = serde_json::to_vec(header).unwrap();
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header);
        out.extend(data);
        out
    }

    #[test]
    fn reads_every_float_width_in_file_order() {
        let mut data = Vec::new();
        data.extend([1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()));
        data.extend([0u8; 4]); // a gap the reader must skip
        data.extend(half::f16::from_f32(0.25).to_le_bytes());
        data.extend(half::bf16::from_f32(-3.0).to_le_bytes());
        let bytes = file(
            &serde_json::json!({
                "__metadata__": {"format": "pt"},
                "b": {"dtype": "F16", "shape": [1], "data_offsets": [12, 14]},
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "c": {"dtype": "BF16", "shape": [1, 1], "data_offsets": [14, 16]},
            }),
            &data,
        );
        let mut w = Weights::from_reader(bytes.as_slice()).unwrap();
        assert!(w.contains("a") && !w.contains("__metadata__"));
        assert_eq!(w.take("a", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(w.take("b", &[1]).unwrap(), vec![0.25]);
        assert_eq!(w.take("c", &[1, 1]).unwrap(), vec![-3.0]);
        let err = w.take("a", &[2]).unwrap_err().to_string();
        assert!(err.contains("`a` is missing"), "{err}");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let header =
            serde_json::json!({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}});
        let whole = file(&header, &[0u8; 16]);
        let cases: [(&[u8], &str); 5] = [
            (&whole[..whole.len() - 3], "ends inside tensor `w`"),
            (&whole[..5], "ends inside the header length"),
            (&[255u8; 16], "header length out of range"),
            (
                &file(
                    &serde_json::json!({"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 8]}}),
                    &[0; 8],
                ),
                "unknown dtype Q4",
            ),
            (
                &file(
                    &serde_json::json!({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}),
                    &[0; 8],
                ),
                "do not fit its shape",
            ),
        ];
        for (bytes, want) in cases {
            let err = Weights::from_reader(bytes).err().unwrap().to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
        let mut w = Weights::from_reader(whole.as_slice()).unwrap();
        let err = w.take("w", &[4]).unwrap_err().to_string();
        assert!(err.contains("shape [2, 2], expected [4]"), "{err}");
        // Integer tensors (BERT's position_ids) are skipped, and refused only if asked for.
        let ints = file(
            &serde_json::json!({
                "ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
                "w": {"dtype": "F32", "shape": [1], "data_offsets": [16, 20]},
            }),
            &[[0u8; 16].as_slice(), &2.0f32.to_le_bytes()].concat(),
        );
        let mut w = Weights::from_reader(ints.as_slice()).unwrap();
        assert_eq!(w.take("w", &[1]).unwrap(), vec![2.0]);
        assert!(w.contains("ids"));
        let err = w.take("ids", &[2]).unwrap_err().to_string();
        assert!(err.contains("dtype I64; expected F32"), "{err}");
    }
}
