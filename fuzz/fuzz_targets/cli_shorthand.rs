//! The CLI's shorthand syntax (`Name=a,Values=[x,y]`, `Key=k,Value="quoted, text"`,
//! nested `{…}` and `@=` file forms aside) and its JSON form, alone and as a list.
#![no_main]

use ec2lab::cli::shorthand;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = shorthand::parse(text) {
        let _ = shorthand::as_bool(&v);
        let _ = shorthand::as_i64(&v);
        let _ = shorthand::as_list(&v);
    }
    // The same text as several arguments (`--filters A=1 B=2`), split at newlines.
    let args: Vec<String> = text.split('\n').map(str::to_string).collect();
    let _ = shorthand::parse_list(&args);
});
