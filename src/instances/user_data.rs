//! User data as EC2 takes it: base64 in requests (RunInstances' `UserData`,
//! ModifyInstanceAttribute's `UserData.Value`), at most 16 KiB once decoded.

use base64ct::{Base64, Encoding};

use crate::error::Ec2Error;

/// EC2's limit on user data, before base64.
pub const MAX_USER_DATA: usize = 16 * 1024;

/// The bytes of base64 user data (whitespace ignored), within EC2's limit.
pub fn decode(b64: &str) -> Result<Vec<u8>, Ec2Error> {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let data = Base64::decode_vec(&compact)
        .map_err(|_| Ec2Error::invalid_parameter("Invalid BASE64 encoding of user data"))?;
    if data.len() > MAX_USER_DATA {
        return Err(Ec2Error::invalid_parameter(format!(
            "User data is limited to {MAX_USER_DATA} bytes; this is {} bytes",
            data.len()
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_within_the_limit() {
        assert_eq!(decode("IyEvYmluL3No\n").unwrap(), b"#!/bin/sh");
        assert_eq!(
            decode("not base64!").unwrap_err().code,
            "InvalidParameterValue"
        );
        let big = Base64::encode_string(&vec![b'x'; MAX_USER_DATA + 1]);
        assert!(decode(&big).unwrap_err().message.contains("limited to"));
        let max = Base64::encode_string(&vec![b'x'; MAX_USER_DATA]);
        assert_eq!(decode(&max).unwrap().len(), MAX_USER_DATA);
    }
}
