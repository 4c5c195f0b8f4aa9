//! Reader for CTranslate2's `model.bin`, the format in which the registry packages ship Whisper.
//!
//! Layout (little-endian): `u32` version, spec name, `u32` revision, `u32` variable count; per variable its
//! name, `u8` rank, `rank × u32` shape, `u8` dtype, `u32` byte count and the raw data; then `u32` alias count
//! and (alias, target) name pairs. Strings are a `u16` length then bytes ending in NUL. The reader borrows
//! the file's bytes, so a 145 MB model is never copied tensor by tensor.

use std::collections::HashMap;

use super::ConvertError;

/// Oldest format revision seen in the wild that this layout matches.
const MIN_VERSION: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
}

impl DType {
    fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable<'a> {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: &'a [u8],
}

impl Variable<'_> {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Debug)]
pub struct Ct2Model<'a> {
    pub spec: String,
    vars: HashMap<String, Variable<'a>>,
    aliases: HashMap<String, String>,
}

impl<'a> Ct2Model<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Ct2Model<'a>, ConvertError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.u32()?;
        if version < MIN_VERSION {
            return Err(ConvertError::Format(format!(
                "CTranslate2 format version {version} is too old (need {MIN_VERSION} or later)"
            )));
        }
        let spec = r.string()?;
        let _revision = r.u32()?;
        let count = r.u32()?;
        let mut vars = HashMap::with_capacity(count as usize);
        for _ in 0..count {
            let name = r.string()?;
            let rank = r.u8()?;
            let shape = (0..rank)
                .map(|_| r.u32().map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let code = r.u8()?;
            let dtype = DType::from_code(code).ok_or_else(|| {
                ConvertError::Format(format!("variable {name}: unknown dtype code {code}"))
            })?;
            let len = r.u32()? as usize;
            let data = r.take(len)?;
            let var = Variable { shape, dtype, data };
            if var.elements() * dtype.size() != len {
                return Err(ConvertError::Format(format!(
                    "variable {name}: shape {:?} does not match its {len} bytes",
                    var.shape
                )));
            }
            vars.insert(name, var);
        }
        let mut aliases = HashMap::new();
        // Older files end after the variables.
        if r.at < bytes.len() {
            for _ in 0..r.u32()? {
                let alias = r.string()?;
                let target = r.string()?;
                aliases.insert(alias, target);
            }
        }
        Ok(Ct2Model {
            spec,
            vars,
            aliases,
        })
    }

    /// A variable by name, following an alias if the name is one.
    pub fn get(&self, name: &str) -> Result<&Variable<'a>, ConvertError> {
        self.vars
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.vars.get(t)))
            .ok_or_else(|| ConvertError::MissingTensor(name.to_string()))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// A rank-0 integer (such as `encoder/num_heads`).
    pub fn scalar(&self, name: &str) -> Result<i64, ConvertError> {
        let v = self.get(name)?;
        let bad = || ConvertError::Format(format!("{name} is not an integer scalar"));
        if v.elements() != 1 {
            return Err(bad());
        }
        let d = v.data;
        Ok(match v.dtype {
            DType::I8 => i64::from(d[0] as i8),
            DType::I16 => i64::from(i16::from_le_bytes([d[0], d[1]])),
            DType::I32 => i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]])),
            DType::F32 | DType::F16 => return Err(bad()),
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConvertError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => Err(ConvertError::Format(format!(
                "model.bin is truncated at byte {} (wanted {n} more of {})",
                self.at,
                self.bytes.len()
            ))),
        }
    }

    fn u8(&mut self) -> Result<u8, ConvertError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ConvertError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, ConvertError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String, ConvertError> {
        let len = self.u16()? as usize;
        let raw = self.take(len)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec())
            .map_err(|_| ConvertError::Format("a name in model.bin is not UTF-8".into()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a tiny model.bin in memory, for converter tests.
    pub(crate) struct Builder {
        vars: Vec<(String, Vec<u32>, u8, Vec<u8>)>,
        aliases: Vec<(String, String)>,
    }

    impl Builder {
        pub(crate) fn new() -> Self {
            Builder {
                vars: Vec::new(),
                aliases: Vec::new(),
            }
        }

        pub(crate) fn var(mut self, name: &str, shape: &[u32], dtype: u8, data: Vec<u8>) -> Self {
            self.vars
                .push((name.to_string(), shape.to_vec(), dtype, data));
            self
        }

        pub(crate) fn alias(mut self, alias: &str, target: &str) -> Self {
            self.aliases.push((alias.into(), target.into()));
            self
        }

        pub(crate) fn build(&self) -> Vec<u8> {
            fn s(out: &mut Vec<u8>, v: &str) {
                out.extend_from_slice(&((v.len() + 1) as u16).to_le_bytes());
                out.extend_from_slice(v.as_bytes());
                out.push(0);
            }
            let mut out = Vec::new();
            out.extend_from_slice(&6u32.to_le_bytes());
            s(&mut out, "WhisperSpec");
            out.extend_from_slice(&3u32.to_le_bytes());
            out.extend_from_slice(&(self.vars.len() as u32).to_le_bytes());
            for (name, shape, dtype, data) in &self.vars {
                s(&mut out, name);
                out.push(shape.len() as u8);
                for d in shape {
                    out.extend_from_slice(&d.to_le_bytes());
                }
                out.push(*dtype);
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(data);
            }
            out.extend_from_slice(&(self.aliases.len() as u32).to_le_bytes());
            for (a, t) in &self.aliases {
                s(&mut out, a);
                s(&mut out, t);
            }
            out
        }
    }

    #[test]
    fn parses_variables_scalars_and_aliases() {
        let bytes = Builder::new()
            .var("encoder/num_heads", &[], 2, 6i16.to_le_bytes().to_vec())
            .var("w", &[2, 2], 0, vec![0; 16])
            .alias("decoder/projection/weight", "w")
            .build();
        let m = Ct2Model::parse(&bytes).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.scalar("encoder/num_heads").unwrap(), 6);
        assert_eq!(
            m.get("decoder/projection/weight").unwrap().shape,
            vec![2, 2]
        );
        assert!(matches!(
            m.get("nope"),
            Err(ConvertError::MissingTensor(n)) if n == "nope"
        ));
    }

    #[test]
    fn truncated_and_inconsistent_files_are_errors_not_panics() {
        let bytes = Builder::new().var("w", &[2, 2], 0, vec![0; 16]).build();
        for cut in [0, 3, 10, 30, bytes.len() - 5] {
            assert!(Ct2Model::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let bad = Builder::new().var("w", &[3, 2], 0, vec![0; 16]).build();
        let err = Ct2Model::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
    }
}
