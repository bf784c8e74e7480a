//! What the verification benches print beside their results: the CPU they ran on. Ratios to
//! raw HMAC depend on it (SHA instructions, vector width, the core's generation).

/// The CPU model, from `/proc/cpuinfo` where there is one, with its family and model numbers
/// (a virtual machine's name may not tell the generation) and whether it has SHA instructions
/// and AVX-512.
pub fn cpu_model() -> String {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return "unknown".to_owned();
    };
    let field = |name: &str| {
        info.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().to_owned())
    };
    let model = field("model name").unwrap_or_else(|| "unknown".to_owned());
    let family = field("cpu family").unwrap_or_default();
    let number = field("model").unwrap_or_default();
    let flags = field("flags").unwrap_or_default();
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    format!(
        "{model} (family {family}, model {number}; SHA instructions: {}, AVX-512: {})",
        if has("sha_ni") { "yes" } else { "no" },
        if has("avx512f") { "yes" } else { "no" },
    )
}
