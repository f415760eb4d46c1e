//! A cheap check that a 2xx body is one whole JSON document, so a body cut short or not JSON
//! is retried by the host before a plugin parses it. The plugin parses every body anyway:
//! parsing it a second time here (`serde_json` into `IgnoredAny`) was half the request
//! path's CPU (see BENCHMARKS.md, "what the profile showed").
//!
//! An object or array is checked structurally, 64 bytes at a time and without allocating:
//! strings (with their escapes) are found from the quote and backslash bit masks, brackets
//! outside strings are counted, and the document must close exactly at its last bracket with
//! only whitespace after it. That catches every prefix of a document (the cut: an open string
//! or an unclosed bracket) and anything that does not open with `{` or `[` (an HTML error
//! page). Anything else (a bare string, number or literal) goes to `serde_json` whole. The
//! masks come from AVX-512 or AVX2 compares, the prefix xor from a carry-less
//! multiplication and the counts from POPCNT where the CPU has them (checked at run time;
//! the 14.7 KB page: 0.64 us with AVX-512, 0.95 us with AVX2 before the carry-less multiplication, 2.15 us with the baseline's
//! SSE2 and software popcount), SSE2 otherwise; the tests check that the tiers agree.
//!
//! What it does not check: the tokens between brackets (`{"a":tru}` passes) and whether a
//! `]` closes a `[` (`{]` passes). Such a body is malformed at the server, not cut in
//! transit; the plugin's parse reports it with the path, as it would any unknown answer.
//! Must not allocate: it runs on every answer.

/// Why a body is not one whole JSON document.
pub(super) fn whole_json(body: &[u8]) -> Result<(), String> {
    let start = body
        .iter()
        .position(|b| !is_ws(*b))
        .ok_or_else(|| "an empty body".to_owned())?;
    if !matches!(body[start], b'{' | b'[') {
        return serde_json::from_slice::<serde::de::IgnoredAny>(body)
            .map(|_| ())
            .map_err(|e| e.to_string());
    }
    let doc = &body[start..];
    #[cfg(target_arch = "x86_64")]
    {
        use std::is_x86_feature_detected as has;
        if has!("pclmulqdq") && has!("popcnt") {
            if has!("avx512bw") {
                // SAFETY: the features it enables were detected on this CPU just above.
                return unsafe { scan_avx512(doc) };
            }
            if has!("avx2") {
                // SAFETY: as above.
                return unsafe { scan_avx2(doc) };
            }
        }
    }
    scan(doc, Masks::of, prefix_xor)
}

/// [`scan`] with AVX-512 compares (64 bytes, a mask each), carry-less multiplication for
/// the strings' prefix xor, and the POPCNT instruction (the x86_64 baseline has neither).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw,pclmulqdq,popcnt")]
unsafe fn scan_avx512(doc: &[u8]) -> Result<(), String> {
    scan(
        doc,
        |block| Masks::of_avx512(block),
        |x| prefix_xor_clmul(x),
    )
}

/// [`scan_avx512`] with AVX2 compares (32 bytes each).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt")]
unsafe fn scan_avx2(doc: &[u8]) -> Result<(), String> {
    scan(doc, |block| Masks::of_avx2(block), |x| prefix_xor_clmul(x))
}

/// The document `doc` (it opens with a bracket), one block of masks at a time.
#[inline(always)]
fn scan(
    doc: &[u8],
    masks: impl Fn(&[u8; BLOCK]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Result<(), String> {
    let mut scan = Scan::default();
    let mut chunks = doc.chunks_exact(BLOCK);
    let mut offset = 0;
    for block in chunks.by_ref() {
        let block: &[u8; BLOCK] = block.try_into().expect("chunks_exact yields BLOCK bytes");
        if let Some(end) = scan.block(masks(block), &prefix_xor) {
            return trailing(doc, offset + end);
        }
        offset += BLOCK;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Whitespace pads the last block: it opens no string and closes nothing.
        let mut block = [b' '; BLOCK];
        block[..rest.len()].copy_from_slice(rest);
        if let Some(end) = scan.block(masks(&block), &prefix_xor) {
            return trailing(doc, offset + end);
        }
    }
    Err(if scan.in_string != 0 {
        "cut short inside a string".to_owned()
    } else {
        format!("cut short with {} brackets open", scan.depth)
    })
}

const BLOCK: usize = 64;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// After the document's last bracket (at `end`), only whitespace.
fn trailing(doc: &[u8], end: usize) -> Result<(), String> {
    match doc[end + 1..].iter().position(|b| !is_ws(*b)) {
        None => Ok(()),
        Some(at) => Err(format!(
            "{} bytes after the end of the JSON document",
            doc.len() - (end + 1 + at)
        )),
    }
}

/// The state carried from one block to the next.
#[derive(Default)]
struct Scan {
    /// Brackets open.
    depth: u64,
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// 1 when the previous block ended with an unescaped backslash.
    escape_next: u64,
}

impl Scan {
    /// Scans one block's masks; the index of the bracket that closes the document, if in
    /// this block.
    #[inline(always)]
    fn block(&mut self, m: Masks, prefix_xor: &impl Fn(u64) -> u64) -> Option<usize> {
        let escaped = self.escaped(m.backslashes);
        let quotes = m.quotes & !escaped;
        // Bit i is set when byte i is inside a string (its opening quote included).
        let strings = prefix_xor(quotes) ^ self.in_string;
        self.in_string = ((strings as i64) >> 63) as u64;
        let open = m.open & !strings;
        let close = m.close & !strings;
        let closes = u64::from(close.count_ones());
        if self.depth > closes {
            // The document cannot close in this block.
            self.depth = self.depth + u64::from(open.count_ones()) - closes;
            return None;
        }
        let mut brackets = open | close;
        while brackets != 0 {
            let at = brackets.trailing_zeros();
            if open & (1 << at) != 0 {
                self.depth += 1;
            } else {
                self.depth -= 1;
                if self.depth == 0 {
                    return Some(at as usize);
                }
            }
            brackets &= brackets - 1;
        }
        None
    }

    /// The bytes escaped by a backslash (simdjson's odd-length backslash runs), carrying a
    /// run that ends the block into the next.
    #[inline(always)]
    fn escaped(&mut self, backslashes: u64) -> u64 {
        if backslashes == 0 {
            return std::mem::take(&mut self.escape_next);
        }
        const EVEN: u64 = 0x5555_5555_5555_5555;
        let backslashes = backslashes & !self.escape_next;
        let follows = (backslashes << 1) | self.escape_next;
        let odd_starts = backslashes & !EVEN & !follows;
        let (even_starts, carry) = odd_starts.overflowing_add(backslashes);
        self.escape_next = u64::from(carry);
        (EVEN ^ (even_starts << 1)) & follows
    }
}

/// Where a block's quotes, backslashes and brackets are: bit i for byte i.
#[derive(Default)]
struct Masks {
    quotes: u64,
    backslashes: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
}

impl Masks {
    /// SSE2 (every x86_64 has it): 16 bytes per compare.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn of(block: &[u8; BLOCK]) -> Masks {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        let mut m = Masks::default();
        for (k, lane) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always
            // available; `lane` is 16 readable bytes and `loadu` needs no alignment.
            let [quotes, backslashes, open, close] = unsafe {
                let v = _mm_loadu_si128(lane.as_ptr().cast());
                // `[` and `]` are `{` and `}` with bit 5 clear.
                let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                [
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                    _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)),
                    _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)),
                ]
                .map(|eq| _mm_movemask_epi8(eq))
            };
            let at = |bits: i32| u64::from(bits as u16) << (16 * k);
            m.quotes |= at(quotes);
            m.backslashes |= at(backslashes);
            m.open |= at(open);
            m.close |= at(close);
        }
        m
    }

    /// AVX-512: 64 bytes per compare, straight into a mask.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn of_avx512(block: &[u8; BLOCK]) -> Masks {
        use std::arch::x86_64::{
            _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_or_si512, _mm512_set1_epi8,
        };
        // SAFETY: `block` is 64 readable bytes and `loadu` needs no alignment (AVX-512 is
        // enabled on this function, so the intrinsics are available).
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        Masks {
            quotes: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)),
            backslashes: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\' as i8)),
            open: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'{' as i8)),
            close: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8)),
        }
    }

    /// AVX2: 32 bytes per compare.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    fn of_avx2(block: &[u8; BLOCK]) -> Masks {
        use std::arch::x86_64::{
            _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8,
        };
        let mut m = Masks::default();
        for (k, lane) in block.chunks_exact(32).enumerate() {
            // SAFETY: `lane` is 32 readable bytes and `loadu` needs no alignment (AVX2 is
            // enabled on this function, so the intrinsics are available).
            let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast()) };
            let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
            let [quotes, backslashes, open, close] = [
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)),
                _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)),
                _mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)),
                _mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)),
            ]
            .map(|eq| _mm256_movemask_epi8(eq));
            let at = |bits: i32| u64::from(bits as u32) << (32 * k);
            m.quotes |= at(quotes);
            m.backslashes |= at(backslashes);
            m.open |= at(open);
            m.close |= at(close);
        }
        m
    }

    /// Byte by byte elsewhere.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn of(block: &[u8; BLOCK]) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            match b | 0x20 {
                _ if b == b'"' => m.quotes |= bit,
                _ if b == b'\\' => m.backslashes |= bit,
                b'{' => m.open |= bit,
                b'}' => m.close |= bit,
                _ => {}
            }
        }
        m
    }
}

/// [`prefix_xor`] in one carry-less multiplication by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set_epi64x(0, -1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// Bit i = the xor of bits 0..=i.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `whole_json`, after checking that the baseline (SSE2, shifts for the prefix xor) and
    /// the AVX2 tier (where this CPU has it) say the same as the tier this CPU runs.
    fn checked(body: &[u8]) -> Result<(), String> {
        let verdict = whole_json(body);
        if let Some(start) = body.iter().position(|b| !is_ws(*b))
            && matches!(body[start], b'{' | b'[')
        {
            let doc = &body[start..];
            assert_eq!(scan(doc, Masks::of, prefix_xor), verdict, "{body:?}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: its features were detected just above.
                assert_eq!(unsafe { scan_avx2(doc) }, verdict, "{body:?}");
            }
        }
        verdict
    }

    fn serde_says(body: &[u8]) -> bool {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
    }

    #[test]
    fn whole_documents_pass_and_every_cut_of_them_fails() {
        let docs: [&[u8]; 6] = [
            br#"{"objects":[],"total":{"items":0},"cursor":""}"#,
            br#"  [1, {"a": "b]}\"{"}, [], "\\", "x\\\"y"]  "#,
            br#"{"k":"\\\\\\\"}]","n":[[[[{}]]]]}"#,
            b"{}\n",
            br#"{"title":"\u00e9 \"quoted\" {not a bracket}"}"#,
            br#"{"long":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"}","b":[{"c":"}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}"}]}"#,
        ];
        for doc in docs {
            assert!(serde_says(doc), "{}", String::from_utf8_lossy(doc));
            assert_eq!(checked(doc), Ok(()), "{}", String::from_utf8_lossy(doc));
            let end = doc.iter().rposition(|b| !is_ws(*b)).unwrap();
            for cut in 0..=end {
                assert!(
                    checked(&doc[..cut]).is_err(),
                    "{:?} passed",
                    String::from_utf8_lossy(&doc[..cut])
                );
            }
        }
    }

    #[test]
    fn a_real_page_passes_and_its_cuts_fail_at_every_block_boundary() {
        let mut page = String::from(r#"{"objects":["#);
        for i in 0..40 {
            page.push_str(&format!(
                r#"{{"itemId":"id-{i}","title":"AK-47 | \"Redline\" (Field-Tested) \\ {{x}}","price":{{"USD":"{i}0"}},"extra":{{"tags":["a","b"]}}}},"#
            ));
        }
        page.pop();
        page.push_str(r#"],"total":{"items":40},"cursor":"abc"}"#);
        let page = page.as_bytes();
        assert!(serde_says(page));
        assert_eq!(checked(page), Ok(()));
        for cut in (1..page.len()).filter(|c| c % 64 < 3 || c % 64 > 61 || c % 7 == 0) {
            assert!(checked(&page[..cut]).is_err(), "cut at {cut} passed");
        }
    }

    #[test]
    fn what_is_not_one_json_document_fails_with_a_reason() {
        for (body, why) in [
            (&b""[..], "an empty body"),
            (b"  \n", "an empty body"),
            (
                b"<html><body>502 Bad Gateway</body></html>",
                "expected value",
            ),
            (br#"{"objects":["#, "cut short with 2 brackets open"),
            (br#"{"objects":"ab"#, "cut short inside a string"),
            (br#"{"a":1} {"b":2}"#, "7 bytes after the end"),
            (b"[1]x", "1 bytes after the end"),
            (b"nul", "EOF while parsing"),
        ] {
            let e = checked(body).unwrap_err();
            assert!(e.contains(why), "{body:?}: {e}");
        }
        // Scalars are JSON documents too (serde_json decides them).
        for body in [&b"\"ok\""[..], b"12", b"true", b" null "] {
            assert_eq!(checked(body), Ok(()));
        }
    }
}
