//! MJPEG files as ffmpeg writes them, the foreign input the tests of this crate and of the
//! tools check against: ffmpeg's moving `testsrc2` picture encoded with its own `mjpeg`
//! encoder, in any of its pixel formats (4:4:4 too, which RFC 2435 cannot carry).

/// ffmpeg's arguments (after `ffmpeg`) that write one second of `testsrc2` at `size`
/// (`WIDTHxHEIGHT`) and 30 fps as a plain MJPEG file (concatenated JPEGs, `-q:v 5`) in
/// `pix_fmt` (`yuvj420p`, `yuvj422p`, `yuvj444p`) to `out`, with `more` output options (such as
/// `-huffman default`) before it; quiet but for errors, overwriting `out`.
pub fn testsrc_mjpeg(size: &str, pix_fmt: &str, more: &[&str], out: &str) -> Vec<String> {
    let input = format!("testsrc2=size={size}:rate=30");
    let mut args = vec![
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        &input,
        "-t",
        "1",
        "-c:v",
        "mjpeg",
        "-q:v",
        "5",
        "-pix_fmt",
        pix_fmt,
    ];
    args.extend(more);
    args.extend(["-f", "mjpeg", out]);
    args.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_comes_last_after_its_options() {
        let args = testsrc_mjpeg("320x240", "yuvj444p", &["-huffman", "default"], "x.mjpeg");
        assert_eq!(args[7], "testsrc2=size=320x240:rate=30");
        assert_eq!(
            args[8..].join(" "),
            "-t 1 -c:v mjpeg -q:v 5 -pix_fmt yuvj444p -huffman default -f mjpeg x.mjpeg"
        );
    }
}
