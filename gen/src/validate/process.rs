//! Running a validator binary: stdin fed from a thread (a large stream would otherwise
//! deadlock against a full stdout pipe), both outputs captured, and a missing binary told
//! apart from one that failed.

use std::ffi::OsString;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use super::{Backend, Tried, ValidateError};

/// Lines of standard error kept in error messages: enough for a usage message or the
/// top of a traceback, short enough to read.
const STDERR_HEAD_LINES: usize = 8;

/// A finished validator run.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) backend: Backend,
    pub(super) program: PathBuf,
    pub(super) status: ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Finished {
    /// A [`ValidateError::Failed`] for this run, with `reason` saying what this side could
    /// not make sense of.
    pub(super) fn failed(&self, reason: impl Into<String>) -> ValidateError {
        ValidateError::Failed {
            backend: self.backend,
            program: self.program.clone(),
            status: exit_status(self.status),
            stderr: stderr_head(&self.stderr),
            reason: reason.into(),
        }
    }
}

/// Runs `program args`, writing `stdin` to it when given (otherwise stdin is empty).
///
/// # Errors
/// [`ValidateError::NotFound`] when the program does not exist, [`ValidateError::Run`]
/// when it cannot be started or waited for.
pub(super) fn run(
    backend: Backend,
    program: &Path,
    args: &[OsString],
    stdin: Option<&str>,
) -> Result<Finished, ValidateError> {
    let run_error = |source| ValidateError::Run {
        backend,
        program: program.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            if source.kind() == ErrorKind::NotFound {
                ValidateError::NotFound {
                    tried: vec![Tried {
                        backend,
                        program: program.to_owned(),
                    }],
                }
            } else {
                run_error(source)
            }
        })?;

    let writer = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_owned();
            Some(std::thread::spawn(move || pipe.write_all(text.as_bytes())))
        }
        _ => None,
    };
    let output = child.wait_with_output().map_err(run_error)?;
    if let Some(writer) = writer {
        match writer.join() {
            // A tool that exits before reading all of stdin (bad flags) closes the pipe;
            // its own stderr then says more than this side's broken pipe would.
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.kind() == ErrorKind::BrokenPipe => {}
            Ok(Err(e)) => return Err(run_error(e)),
            Err(_) => {
                return Err(run_error(std::io::Error::other(
                    "the thread writing stdin panicked",
                )));
            }
        }
    }
    Ok(Finished {
        backend,
        program: program.to_owned(),
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// `1`, or how the process ended when it has no exit code (`signal: 9 (SIGKILL)`).
fn exit_status(status: ExitStatus) -> String {
    status
        .code()
        .map_or_else(|| status.to_string(), |c| c.to_string())
}

/// The first lines of `stderr`, plus its last line when cut (a Python traceback ends
/// with the exception itself).
fn stderr_head(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "(empty)".to_owned();
    }
    if lines.len() <= STDERR_HEAD_LINES {
        return lines.join("\n");
    }
    let mut kept = lines[..STDERR_HEAD_LINES - 1].to_vec();
    kept.push("...");
    kept.push(lines[lines.len() - 1]);
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_not_found_not_a_panic() {
        let err = run(
            Backend::Kubeconform,
            Path::new("/nonexistent/kubeconform"),
            &[],
            Some("a: 1\n"),
        )
        .unwrap_err();
        let ValidateError::NotFound { tried } = &err else {
            panic!("expected NotFound, got {err:?}");
        };
        assert_eq!(tried[0].program, Path::new("/nonexistent/kubeconform"));
        assert!(
            err.to_string()
                .contains("go install github.com/yannh/kubeconform")
        );
    }

    #[test]
    fn stdin_reaches_the_program_and_both_outputs_come_back() {
        let args: Vec<OsString> = ["-c", "cat; echo oops >&2; exit 3"]
            .iter()
            .map(OsString::from)
            .collect();
        let done = run(
            Backend::Kubeconform,
            Path::new("sh"),
            &args,
            Some("hello\n"),
        )
        .unwrap();
        assert_eq!(done.stdout, "hello\n");
        assert_eq!(done.stderr, "oops\n");
        let msg = done.failed("cannot parse").to_string();
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.contains("stderr: oops"), "{msg}");
        assert!(msg.contains("cannot parse"), "{msg}");
    }

    #[test]
    fn long_stderr_keeps_its_head_and_last_line() {
        let text: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let head = stderr_head(&text);
        assert!(head.starts_with("line 1\nline 2\n"), "{head}");
        assert!(head.ends_with("...\nline 20"), "{head}");
        assert_eq!(stderr_head("\n"), "(empty)");
    }
}
