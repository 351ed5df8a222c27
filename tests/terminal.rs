mod common;
// In a pseudo-terminal: single keys while idle, the dashboard, input() in the module, --repl.

use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::{Pty, SPAWN, has_sgr, pty_command, strip_ansi};
use common::{Host, Project, TIMEOUT, save_in_place};

/// Short window used only to check that something did NOT happen.
const QUIET: Duration = Duration::from_millis(500);
/// What the host writes to clear the screen before a run.
const CLEAR: &str = "\x1b[H\x1b[2J\x1b[3J";
const CTRL_C: &[u8] = b"\x03";
const CTRL_D: &[u8] = b"\x04";

fn header(module: &str, files: usize) -> String {
    let files = if files == 1 {
        "1 file".to_string()
    } else {
        format!("{files} files")
    };
    format!(" hotload-host · {module} · watching {files} · reload: changed · ? for keys ")
}

// ---- Keys while idle ----

#[test]
fn keys_r_and_enter_run_again_and_typed_keys_are_not_echoed() {
    let p = Project::new();
    p.write("lib.py", "print('hello from lib')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    // `?` answered proves the host is idle with keys on; from then on no echo.
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    t.assert_key_mode();
    t.press(b"r");
    t.expect("(run 2)");
    t.press(b"\r"); // Enter (ICRNL makes it \n)
    t.expect("(run 3)");
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    t.press(b"Z%");
    t.settle(QUIET);
    let text = t.text();
    if text.contains('Z') || text.contains('%') {
        t.fail("keys typed while idle were echoed");
    }
    assert_eq!(t.count_clean("hello from lib"), 3, "{}", t.transcript());
    assert!(t.running());
    t.assert_whole_line("hello from lib");
    t.assert_crlf();
}

#[test]
fn key_c_clears_and_redraws_the_header_without_running() {
    let p = Project::new();
    p.write("lib.py", "print('cleared?')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    assert_eq!(t.count(CLEAR), 1, "{}", t.transcript());
    t.press(b"c");
    let before = t.marked();
    t.expect(CLEAR);
    t.expect_clean(&header("lib", 1));
    t.settle(QUIET);
    assert_eq!(t.count(CLEAR), 2, "{}", t.transcript());
    assert_eq!(t.count_clean(&header("lib", 1)), 2, "{}", t.transcript());
    let after = strip_ansi(&t.text_from(before));
    assert!(
        !after.contains("(run 2") && !after.contains("cleared?"),
        "c must not run the module:\n{}",
        t.transcript()
    );
    // The screen after `c` is the header alone, at the top.
    let after = t.text_from(before);
    let at = after.find(CLEAR).unwrap();
    assert!(
        strip_ansi(&after[..at]).trim().is_empty(),
        "output before the clear: {:?}",
        &after[..at]
    );
    let after_clear = strip_ansi(&after[at + CLEAR.len()..]);
    assert!(
        after_clear.starts_with(&format!("{}\r\n", header("lib", 1))),
        "{after_clear:?}"
    );
    t.assert_crlf();
}

#[test]
fn key_p_pauses_and_saves_made_meanwhile_run_once_on_resume() {
    let p = Project::new();
    p.write("lib.py", "print('version 1')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    t.press(b"p");
    t.expect_clean("[hotload] paused: saves are collected and run once on resume (p)");
    t.mark();
    save_in_place(&p.path("lib.py"), "print('version 2')\n");
    t.expect_clean("[hotload] paused: 1 saved file waiting (p to resume)");
    t.mark();
    let waiting = t.count_clean("waiting (p to resume)");
    save_in_place(&p.path("lib.py"), "print('version 3')\n");
    t.wait_count_clean("waiting (p to resume)", waiting + 1);
    t.settle(QUIET);
    let text = strip_ansi(&t.text());
    assert!(
        !text.contains("(run 2") && !text.contains("version 2") && !text.contains("version 3"),
        "a save ran while paused:\n{}",
        t.transcript()
    );
    assert!(
        !text.contains("2 saved files"),
        "the same file counted twice:\n{}",
        t.transcript()
    );
    t.press(b"p");
    t.expect_clean("[hotload] resumed");
    t.expect_clean("version 3");
    t.expect_clean("(run 2, after saving lib.py)");
    t.settle(QUIET);
    let text = strip_ansi(&t.text());
    assert!(
        !text.contains("(run 3"),
        "resume ran more than once:\n{}",
        t.transcript()
    );
    assert!(!text.contains("version 2"), "{}", t.transcript());
    // Watching again: the next save runs at once.
    t.mark();
    save_in_place(&p.path("lib.py"), "print('version 4')\n");
    t.expect_clean("version 4");
    t.expect_clean("(run 3, after saving lib.py)");
    t.assert_whole_line("version 3");
    t.assert_whole_line("version 4");
    t.assert_crlf();
}

#[test]
fn key_p_resume_without_saves_does_not_run() {
    let p = Project::new();
    p.write("lib.py", "print('only once')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    t.press(b"p");
    t.expect_clean("[hotload] paused:");
    t.press(b"p");
    t.expect_clean("[hotload] resumed");
    t.settle(QUIET);
    assert!(
        !strip_ansi(&t.text()).contains("(run 2"),
        "{}",
        t.transcript()
    );
    t.press(b"q");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
}

#[test]
fn key_q_quits_with_status_0_and_restores_the_terminal() {
    let p = Project::new();
    p.write("lib.py", "print('about to quit')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    t.assert_key_mode();
    t.press(b"q");
    let status = t.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", t.transcript());
    t.assert_terminal_restored();
    t.assert_crlf();
}

#[test]
fn ctrl_c_while_idle_exits_130_and_restores_the_terminal() {
    let p = Project::new();
    p.write("lib.py", "print('idle next')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    t.assert_key_mode();
    t.send(CTRL_C);
    let status = t.wait_exit();
    assert_eq!(
        status.code(),
        Some(130),
        "signal {:?}\n{}",
        status.signal(),
        t.transcript()
    );
    t.assert_terminal_restored();
}

#[test]
fn ctrl_c_while_the_module_runs_interrupts_it_and_keys_still_work() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import time\nprint('spinning', flush=True)\nwhile True:\n    time.sleep(0.01)\n",
    );
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("spinning\r\n");
    t.assert_line_mode();
    t.send(CTRL_C);
    t.expect_clean("KeyboardInterrupt");
    t.expect_clean("interrupted by Ctrl-C");
    t.expect("(run 1)");
    assert!(t.running(), "{}", t.transcript());
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    t.press(b"q");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
    t.assert_terminal_restored();
}

#[test]
fn key_question_mark_lists_the_keys_on_a_line_of_its_own() {
    let p = Project::new();
    p.write("lib.py", "print('x')\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    t.press(b"?");
    let before = t.marked();
    t.expect_clean("this help");
    let lines: Vec<String> = strip_ansi(&t.text())
        .split("\r\n")
        .map(str::to_string)
        .collect();
    let help: Vec<&String> = lines.iter().filter(|l| l.contains("keys:")).collect();
    assert_eq!(help.len(), 1, "{}", t.transcript());
    assert!(help[0].starts_with("[hotload] keys:"), "{:?}", help[0]);
    for key in ["r or Enter", "c clear", "p pause", "q quit", "?"] {
        assert!(help[0].contains(key), "{key:?} missing from {:?}", help[0]);
    }
    assert!(
        !strip_ansi(&t.text_from(before)).contains("(run 2"),
        "? must not run:\n{}",
        t.transcript()
    );
    t.assert_crlf();
}

#[test]
fn module_output_lines_start_at_column_0_in_every_mode() {
    let p = Project::new();
    let module = "\
import sys
try:
    n = n + 1
except NameError:
    n = 1
print('out line one %d' % n)
print('out line two %d' % n)
sys.stderr.write('err line %d\\n' % n)
sys.stderr.flush()
print('out line three %d' % n, flush=True)
";
    p.write("lib.py", module);
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    // A run started by a key (the terminal was in key mode just before).
    t.press(b"r");
    t.expect("(run 2)");
    t.press(b"p");
    t.expect_clean("[hotload] paused:");
    t.press(b"p");
    t.expect_clean("[hotload] resumed");
    // A run started by a save.
    t.mark();
    save_in_place(&p.path("lib.py"), &format!("{module}\n"));
    t.expect("(run 3, after saving lib.py)");
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    for n in 1..=3 {
        for line in ["out line one", "out line two", "err line", "out line three"] {
            t.assert_whole_line(&format!("{line} {n}"));
        }
    }
    t.assert_whole_line("[hotload] resumed");
    t.assert_crlf();
    // The status lines too.
    let clean = strip_ansi(&t.text());
    for line in clean.split("\r\n").filter(|l| l.contains("[hotload]")) {
        assert!(
            line.starts_with("[hotload]"),
            "status line not at column 0: {line:?}\n{}",
            t.transcript()
        );
    }
}

#[test]
fn module_input_gets_the_terminal_in_line_mode() {
    let p = Project::new();
    p.write(
        "lib.py",
        "line = input('name? ')\nprint('got: [%s]' % line)\n",
    );
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("name? ");
    t.assert_line_mode();
    t.send(b"alice\r");
    t.expect("got: [alice]\r\n");
    t.expect("(run 1)");
    // Now the host has been idle (key mode); a run started by `r` gets line mode back.
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    t.assert_key_mode();
    t.press(b"r");
    t.expect("name? ");
    t.assert_line_mode();
    // Typed with echo, edited with backspace (line editing is the terminal's, in line mode).
    t.send(b"bobx\x7f\r");
    t.expect("got: [bob]\r\n");
    t.expect("(run 2)");
    let clean = strip_ansi(&t.text());
    assert!(
        clean.contains("name? alice\r\n"),
        "no echo:\n{}",
        t.transcript()
    );
    // And on a save.
    t.mark();
    save_in_place(
        &p.path("lib.py"),
        "line = input('again? ')\nprint('second: [%s]' % line)\n",
    );
    t.expect("again? ");
    t.send(b"carol\r");
    t.expect("second: [carol]\r\n");
    t.expect("(run 3, after saving lib.py)");
    t.assert_whole_line("got: [bob]");
    t.assert_whole_line("second: [carol]");
    t.press(b"q");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
    t.assert_terminal_restored();
}

#[test]
fn keys_typed_while_the_module_runs_are_not_commands() {
    // README: "while the module runs, stdin is the module's; keys typed then are not taken as
    // commands".
    let p = Project::new();
    p.write(
        "lib.py",
        "\
import os, time
print('working', flush=True)
while not os.path.exists('go'):
    time.sleep(0.01)
os.remove('go')
print('finished')
",
    );
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("working\r\n");
    t.send(b"q");
    t.mark();
    std::fs::write(p.path("go"), "").unwrap();
    t.expect("finished\r\n");
    t.expect("(run 1)");
    t.settle(QUIET);
    if !t.running() {
        t.fail("a `q` typed while the module ran quit the host once it was idle");
    }
    t.press(b"?");
    t.expect_clean("[hotload] keys:");
    assert!(t.running());
}

// ---- The dashboard ----

#[test]
fn dashboard_clears_draws_the_header_and_the_footer() {
    let p = Project::new();
    p.write("lib.py", "import helper\nprint('body v1')\n");
    p.write("helper.py", "X = 1\n");
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect("(run 1)");
    let head = header("lib", 2);
    // Run 1: the screen starts with the clear, the header, the module's output, the footer.
    let first = t.text();
    assert!(first.starts_with(CLEAR), "{}", t.transcript());
    let lines: Vec<String> = strip_ansi(&first[CLEAR.len()..])
        .split("\r\n")
        .map(str::to_string)
        .collect();
    assert_eq!(lines[0], head, "{}", t.transcript());
    assert_eq!(lines[1], "body v1", "{}", t.transcript());
    assert!(
        lines[2].starts_with("[hotload] ok: lib ran in ") && lines[2].ends_with(" (run 1)"),
        "{:?}\n{}",
        lines[2],
        t.transcript()
    );
    // Colour is on by default on a terminal.
    assert!(has_sgr(&first), "expected colour:\n{}", t.transcript());

    t.mark();
    let before = t.marked();
    save_in_place(&p.path("lib.py"), "import helper\nprint('body v2')\n");
    t.expect("(run 2, after saving lib.py)");
    let second = t.text_from(before);
    let at = second
        .find(CLEAR)
        .unwrap_or_else(|| t.fail("no clear before run 2"));
    assert!(
        strip_ansi(&second[..at]).trim().is_empty(),
        "output before the clear: {:?}",
        &second[..at]
    );
    let lines: Vec<String> = strip_ansi(&second[at + CLEAR.len()..])
        .split("\r\n")
        .map(str::to_string)
        .collect();
    assert_eq!(lines[0], head, "{}", t.transcript());
    assert_eq!(lines[1], "body v2", "{}", t.transcript());
    assert!(
        lines[2].starts_with("[hotload] ok: lib ran in ")
            && lines[2].ends_with(" (run 2, after saving lib.py)"),
        "{:?}\n{}",
        lines[2],
        t.transcript()
    );
    // A save of another file names that file.
    t.mark();
    save_in_place(&p.path("helper.py"), "X = 2\n");
    t.expect_clean("(run 3, after saving helper.py)");
    t.assert_crlf();
}

fn assert_no_colour_but_clear(t: &mut Pty) {
    t.expect("(run 1)");
    t.press(b"?");
    t.expect("[hotload] keys:");
    t.press(b"c");
    t.expect(CLEAR);
    t.expect("? for keys");
    let text = t.text();
    assert!(!has_sgr(&text), "colour codes:\n{}", t.transcript());
    let rest = text.replace(CLEAR, "");
    assert!(
        !rest.contains('\x1b'),
        "escape codes other than the clear:\n{}",
        t.transcript()
    );
    assert_eq!(t.count(CLEAR), 2, "{}", t.transcript());
    // Without colour the lines are plain text as they are.
    assert!(
        text.contains(&format!(
            "{CLEAR}{}\r\nplain\r\n[hotload] ok: lib ran in ",
            header("lib", 1)
        )),
        "{}",
        t.transcript()
    );
}

#[test]
fn dashboard_color_never_has_no_colour_codes() {
    let p = Project::new();
    p.write("lib.py", "print('plain')\n");
    let mut t = Pty::start(&p, &["lib.py", "--color", "never"]);
    assert_no_colour_but_clear(&mut t);
}

#[test]
fn dashboard_no_color_env_has_no_colour_codes() {
    let p = Project::new();
    p.write("lib.py", "print('plain')\n");
    let mut t = Pty::start_with(&p, &["lib.py"], |cmd| {
        cmd.env("NO_COLOR", "1");
    });
    assert_no_colour_but_clear(&mut t);
}

#[test]
fn no_clear_draws_no_dashboard_on_a_terminal() {
    let p = Project::new();
    p.write("lib.py", "print('kept on screen 1')\n");
    let mut t = Pty::start(&p, &["lib.py", "--no-clear"]);
    t.expect("(run 1)");
    t.mark();
    save_in_place(&p.path("lib.py"), "print('kept on screen 2')\n");
    t.expect("(run 2, after saving lib.py)");
    assert_eq!(t.count(CLEAR), 0, "{}", t.transcript());
    assert_eq!(t.count_clean("hotload-host ·"), 0, "{}", t.transcript());
    t.assert_whole_line("kept on screen 1");
    t.assert_whole_line("kept on screen 2");
}

#[test]
fn plain_pipes_have_no_escape_codes_at_all() {
    let p = Project::new();
    p.write("lib.py", "print('piped v1')\n");
    let mut host = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let home = tempfile::tempdir().unwrap();
        let mut cmd = pty_command(&p, home.path(), &["lib.py"]);
        cmd.stdin(Stdio::null());
        Host::spawn(cmd)
    };
    host.wait_for("(run 1)");
    host.mark();
    save_in_place(&p.path("lib.py"), "print('piped v2')\n");
    host.wait_for("(run 2, after saving lib.py)");
    host.wait_for("piped v2"); // stdout is a pipe of its own: it may come after the status
    host.settle(Duration::from_millis(200));
    let all = host.transcript();
    assert!(!all.contains('\x1b'), "escape codes on pipes:\n{all:?}");
    assert!(!all.contains("? for keys"), "{all}");
    assert!(
        !all.contains("hotload-host ·"),
        "no header on pipes:\n{all}"
    );
    assert!(host.stdout_text().contains("piped v1\npiped v2\n"), "{all}");
    let status: Vec<&String> = host
        .lines
        .iter()
        .filter(|(_, l)| l.contains("(run 2"))
        .map(|(_, l)| l)
        .collect();
    assert!(
        status[0].starts_with("[hotload] ok: lib ran in ")
            && status[0].ends_with(" (run 2, after saving lib.py)"),
        "{all}"
    );
}

// ---- --repl ----

/// Waits for the console's first prompt.
fn start_repl(p: &Project) -> Pty {
    let mut t = Pty::start(p, &["lib.py", "--repl"]);
    t.expect_clean("hotload-host console:");
    t.expect(">>> ");
    t
}

#[test]
fn repl_names_follow_reloads_and_exit_ends_with_status_0() {
    let p = Project::new();
    p.write("lib.py", "def f():\n    return 1\n");
    let mut t = start_repl(&p);
    t.send(b"print('result=%r' % (f(),))\r");
    t.expect_clean("result=1\r\n");
    t.expect(">>> ");
    t.mark();
    save_in_place(
        &p.path("lib.py"),
        "def f():\n    return 2\nprint('reloaded v2')\n",
    );
    t.expect_clean("reloaded v2\r\n");
    t.expect_clean("(run 2, after saving lib.py)");
    t.expect(">>> ");
    t.send(b"print('result=%r' % (f(),))\r");
    t.expect_clean("result=2\r\n");
    t.expect(">>> ");
    // A name the module defines later appears too; one the console defined stays (same dict).
    t.send(b"mine = 40\r");
    t.expect(">>> ");
    t.mark();
    save_in_place(
        &p.path("lib.py"),
        "def f():\n    return 3\ndef g():\n    return mine + 2\nprint('reloaded v3')\n",
    );
    t.expect_clean("(run 3, after saving lib.py)");
    t.expect(">>> ");
    t.send(b"print('sum=%r' % (g() + f(),))\r");
    t.expect_clean("sum=45\r\n");
    t.expect(">>> ");
    t.assert_whole_line("reloaded v2");
    t.send(b"exit()\r");
    let status = t.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", t.transcript());
    t.assert_terminal_restored();
    t.assert_crlf();
    // History: the lines typed, in $HOME/.hotload_history.
    let history = std::fs::read_to_string(t.home.path().join(".hotload_history"))
        .unwrap_or_else(|e| t.fail(&format!("no history file: {e}")));
    for line in ["print('result=%r' % (f(),))", "mine = 40", "exit()"] {
        assert!(
            history.lines().any(|l| l == line),
            "{line:?} not in history:\n{history}"
        );
    }
}

#[test]
fn repl_history_is_loaded_at_start() {
    let p = Project::new();
    p.write("lib.py", "V = 7\n");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".hotload_history"),
        "print('from history', V)\n",
    )
    .unwrap();
    let mut t = Pty::spawn(pty_command(&p, home.path(), &["lib.py", "--repl"]), home);
    t.expect(">>> ");
    t.send(b"\x1b[A"); // up arrow: the previous session's line
    t.expect("print('from history', V)");
    t.send(b"\r");
    t.expect_clean("from history 7\r\n");
    t.expect(">>> ");
    t.send(CTRL_D);
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
}

#[test]
fn repl_reload_output_goes_above_the_prompt_and_the_line_is_redrawn() {
    let p = Project::new();
    p.write("lib.py", "WORD = 'x'\n");
    let mut t = start_repl(&p);
    t.send(b"print('ab");
    t.expect("print('ab");
    t.mark();
    save_in_place(
        &p.path("lib.py"),
        "WORD = 'y'\nprint('reload output here')\n",
    );
    t.expect_clean("reload output here\r\n");
    t.expect_clean("(run 2, after saving lib.py)");
    // The prompt and the partial line are drawn again below the reload's output.
    t.expect_clean(">>> print('ab");
    t.send(b"cd' + WORD)\r");
    t.expect_clean("abcdy\r\n");
    t.expect(">>> ");
    t.assert_whole_line("reload output here");
    // The reload's output lines start at column 0 (the prompt line was cleared first).
    let clean = strip_ansi(&t.text());
    let status = clean
        .split("\r\n")
        .find(|l| l.contains("(run 2"))
        .unwrap()
        .to_string();
    assert!(
        status.starts_with("[hotload] ok: lib ran in "),
        "{status:?}"
    );
    t.send(b"exit()\r");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
}

#[test]
fn repl_without_clearing_prints_the_reload_on_its_own_lines_above_the_prompt() {
    let p = Project::new();
    p.write("lib.py", "N = 1\n");
    let mut t = Pty::start(&p, &["lib.py", "--repl", "--no-clear"]);
    t.expect(">>> ");
    t.send(b"print('partial ' + str(N");
    t.expect("print('partial ' + str(N");
    t.mark();
    save_in_place(
        &p.path("lib.py"),
        "N = 2\nprint('first reload line')\nprint('second reload line')\n",
    );
    t.expect_clean("second reload line\r\n");
    t.expect_clean("(run 2, after saving lib.py)\r\n");
    // The prompt and the partial line again, below the output.
    t.expect_clean(">>> print('partial ' + str(N");
    t.send(b"))\r");
    t.expect_clean("partial 2\r\n");
    t.expect(">>> ");
    assert_eq!(t.count(CLEAR), 0, "{}", t.transcript());
    // The partial line was on screen when the reload printed: its lines still start at
    // column 0 of an otherwise empty row.
    t.assert_whole_line("first reload line");
    t.assert_whole_line("second reload line");
    let clean = strip_ansi(&t.text());
    let status = clean
        .split("\r\n")
        .find(|l| l.contains("(run 2"))
        .unwrap()
        .to_string();
    assert!(
        status.starts_with("[hotload] ok: lib ran in "),
        "{status:?}"
    );
    t.send(b"exit()\r");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
    t.assert_crlf();
}

#[test]
fn repl_ctrl_c_cancels_the_line_being_typed() {
    let p = Project::new();
    p.write("lib.py", "A = 20\n");
    let mut t = start_repl(&p);
    t.send(b"raise SystemExit(5)");
    t.expect("raise SystemExit(5)");
    t.wait_in_select();
    t.send(CTRL_C);
    t.expect_clean("KeyboardInterrupt");
    t.expect(">>> ");
    assert!(t.running(), "{}", t.transcript());
    t.send(b"print('A*2=%d' % (A * 2))\r");
    t.expect_clean("A*2=40\r\n");
    t.expect(">>> ");
    t.send(b"exit()\r");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
    t.assert_terminal_restored();
}

#[test]
fn repl_ctrl_c_interrupts_a_running_statement() {
    let p = Project::new();
    p.write("lib.py", "B = 1\n");
    let mut t = start_repl(&p);
    t.send(b"exec(\"print('spin' + 'ning', flush=True)\\nwhile True: pass\")\r");
    t.expect("spinning\r\n");
    t.send(CTRL_C);
    t.expect_clean("KeyboardInterrupt");
    t.expect(">>> ");
    assert!(t.running(), "{}", t.transcript());
    t.send(b"print('B+1=%d' % (B + 1))\r");
    t.expect_clean("B+1=2\r\n");
    t.expect(">>> ");
    // Saves still reload after the interruption.
    t.mark();
    save_in_place(&p.path("lib.py"), "B = 10\nprint('after interrupt')\n");
    t.expect_clean("(run 2, after saving lib.py)");
    t.expect(">>> ");
    t.send(b"print('B+1=%d' % (B + 1))\r");
    t.expect_clean("B+1=11\r\n");
    t.expect(">>> ");
    t.send(b"exit()\r");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
}

#[test]
fn repl_ctrl_d_on_an_empty_line_ends_with_status_0() {
    let p = Project::new();
    p.write("lib.py", "C = 3\n");
    let mut t = start_repl(&p);
    t.send(CTRL_D);
    let status = t.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", t.transcript());
    t.assert_terminal_restored();
}

#[test]
fn repl_needs_a_terminal_on_stdin() {
    let p = Project::new();
    p.write("lib.py", "print('never runs')\n");
    let mut host = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let home = tempfile::tempdir().unwrap();
        let mut cmd = pty_command(&p, home.path(), &["lib.py", "--repl"]);
        cmd.stdin(Stdio::null());
        Host::spawn(cmd)
    };
    let status = host.wait_exit(TIMEOUT);
    assert_eq!(status.code(), Some(2), "{}", host.transcript());
    assert!(
        host.stderr_text()
            .contains("hotload-host: error: --repl needs a terminal on stdin"),
        "{}",
        host.transcript()
    );
    assert!(
        !host.stdout_text().contains("never runs"),
        "{}",
        host.transcript()
    );
}

#[test]
fn repl_with_stdout_on_a_terminal_but_stdin_a_pipe_is_refused() {
    // stdout and stderr on the pty, stdin a pipe: still no console.
    let p = Project::new();
    p.write("lib.py", "print('never runs')\n");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = pty_command(&p, home.path(), &["lib.py", "--repl"]);
    cmd.stdin(Stdio::piped());
    let mut t = Pty::spawn_keeping_stdin(cmd, home);
    let status = t.wait_exit();
    assert_eq!(status.code(), Some(2), "{}", t.transcript());
    assert!(
        t.text()
            .contains("hotload-host: error: --repl needs a terminal on stdin"),
        "{}",
        t.transcript()
    );
}

// ---- Signals that end or stop the host give the terminal back ----

/// Waits until the host is idle with keys on (line mode and echo off).
fn wait_key_mode(t: &mut Pty) {
    let deadline = Instant::now() + TIMEOUT;
    while t.termios().c_lflag & (libc::ICANON | libc::ECHO) != 0 {
        if !t.running() || Instant::now() >= deadline {
            t.fail("the host never went idle with keys on");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit(')')
        .next()
        .and_then(|s| s.trim().chars().next())
        .unwrap_or('?')
}

#[test]
fn sigterm_sighup_and_sigquit_while_idle_give_the_terminal_back() {
    for (sig, expect_code) in [
        (libc::SIGTERM, Some(143)),
        (libc::SIGHUP, Some(129)),
        (libc::SIGQUIT, None),
    ] {
        let p = Project::new();
        p.write(
            "lib.py",
            "import atexit\natexit.register(lambda: print('atexit ran'))\n",
        );
        let mut t = Pty::start(&p, &["lib.py"]);
        t.expect_clean("(run 1)");
        wait_key_mode(&mut t);
        t.mark();
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(t.child.id() as i32, sig) };
        let status = t.wait_exit();
        t.assert_terminal_restored();
        match expect_code {
            Some(code) => {
                assert_eq!(status.code(), Some(code), "{}", t.transcript());
                t.expect_clean("atexit ran");
            }
            None => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(status.signal(), Some(sig), "{}", t.transcript());
                t.expect_clean("hotload-host quit (SIGQUIT)");
            }
        }
    }
}

#[test]
fn a_crash_in_user_code_shows_its_python_traceback_and_gives_the_terminal_back() {
    let p = Project::new();
    // The crash comes from a thread while the host is idle (terminal in key mode).
    p.write(
        "lib.py",
        "import ctypes, threading\n\
         def crash():\n    ctypes.string_at(0)\n\
         threading.Timer(0.5, crash).start()\n\
         print('armed')\n",
    );
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect_clean("(run 1)");
    let status = t.wait_exit();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{}", t.transcript());
    t.assert_terminal_restored();
    t.expect_clean("Fatal Python error: Segmentation fault");
    t.expect_clean("lib.py\", line 3 in crash");
    t.expect_clean("hotload-host crashed: segmentation fault (SIGSEGV)");
}

/// Starts the host on a pty the way a job-control shell does: a small shell (a Python script)
/// leads the session and waits, and the host runs in its own foreground process group (so
/// that Ctrl-Z stops it: the kernel discards stop signals for an orphaned process group).
/// Returns the pty (whose child is the shell) and the host's pid.
fn start_under_job_control(p: &Project, args: &[&str]) -> (Pty, u32) {
    const SHELL: &str = "import os, sys\n\
        r, w = os.pipe()\n\
        pid = os.fork()\n\
        if pid == 0:\n\
        \x20   os.setpgid(0, 0)\n\
        \x20   os.read(r, 1)\n\
        \x20   os.execv(sys.argv[1], sys.argv[1:])\n\
        os.setpgid(pid, pid)\n\
        os.tcsetpgrp(0, pid)\n\
        os.write(w, b'1')\n\
        while True:\n\
        \x20   _, status = os.waitpid(pid, os.WUNTRACED)\n\
        \x20   if os.WIFEXITED(status):\n\
        \x20       sys.exit(os.WEXITSTATUS(status))\n\
        \x20   if os.WIFSIGNALED(status):\n\
        \x20       sys.exit(128 + os.WTERMSIG(status))\n";
    let home = tempfile::tempdir().unwrap();
    let host = pty_command(p, home.path(), args);
    let mut shell = Command::new("python3");
    shell
        .arg("-c")
        .arg(SHELL)
        .arg(host.get_program())
        .args(host.get_args());
    shell.current_dir(p.dir.path()).env_clear();
    for (key, value) in host.get_envs() {
        if let Some(value) = value {
            shell.env(key, value);
        }
    }
    for (key, value) in std::env::vars_os() {
        if host.get_envs().all(|(k, _)| k != key) {
            shell.env(key, value);
        }
    }
    let t = Pty::spawn(shell, home);
    let shell = t.child.id();
    let deadline = Instant::now() + TIMEOUT;
    let host = loop {
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap_or_default();
        // (`python3` may be a shim that runs helpers first: wait for the host itself.)
        let host = children.split_whitespace().find_map(|c| {
            let exe = std::fs::read_link(format!("/proc/{c}/exe")).ok()?;
            // The wheel's hotload-host is a script: its interpreter runs with it as argv[1].
            let cmdline = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
            let script = cmdline.split(|&b| b == 0).nth(1).map(|arg| {
                Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(arg))
                    == common::bin()
            });
            (exe == common::bin() || script == Some(true))
                .then(|| c.parse().ok())
                .flatten()
        });
        if let Some(pid) = host {
            break pid;
        }
        if Instant::now() >= deadline {
            t.fail("the job-control shell started no host");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (t, host)
}

#[test]
fn ctrl_z_gives_the_terminal_back_and_fg_brings_keys_back_without_enter() {
    let p = Project::new();
    p.write("lib.py", "print('ran')\n");
    let (mut t, pid) = start_under_job_control(&p, &["lib.py"]);
    t.expect_clean("(run 1)");
    wait_key_mode(&mut t);
    t.send(b"\x1a"); // Ctrl-Z: SIGTSTP for the foreground process group
    let deadline = Instant::now() + TIMEOUT;
    while process_state(pid) != 'T' {
        if Instant::now() >= deadline {
            t.fail("the host did not stop on Ctrl-Z");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    t.assert_line_mode(); // stopped: the shell gets the terminal as the user had it
    t.mark();
    // SAFETY: `fg` as a shell does it: continue the stopped job.
    unsafe { libc::kill(pid as i32, libc::SIGCONT) };
    wait_key_mode(&mut t);
    t.press(b"r");
    t.expect_clean("(run 2)");
    t.press(b"q");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
}

#[test]
fn a_terminal_hangup_ends_the_host_as_sighup_ends_a_shells_child() {
    let p = Project::new();
    p.write(
        "lib.py",
        "import atexit\natexit.register(lambda: open('atexit.txt', 'w').write('ran'))\n",
    );
    let mut t = Pty::start(&p, &["lib.py"]);
    t.expect_clean("(run 1)");
    wait_key_mode(&mut t);
    hang_up(&t);
    // (No wait_exit: the hung-up terminal's settings cannot be read any more.)
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = t.try_exit() {
            break status;
        }
        if Instant::now() >= deadline {
            t.fail("the host did not exit after the hangup");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(129), "{}", t.transcript());
    assert_eq!(
        std::fs::read_to_string(p.path("atexit.txt")).unwrap_or_default(),
        "ran"
    );
}

#[test]
fn with_sighup_ignored_a_hung_up_terminal_stops_the_keys_and_nothing_spins() {
    let p = Project::new();
    p.write("lib.py", "open('runs.txt', 'a').write('run\\n')\n");
    let home = tempfile::tempdir().unwrap();
    let cmd = pty_command(&p, home.path(), &["lib.py"]);
    let mut t = Pty::spawn_ignoring_hangup(cmd, home);
    t.expect_clean("(run 1)");
    wait_key_mode(&mut t);
    hang_up(&t);
    let pid = t.child.id();
    let cpu = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<u64> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|f| f.parse().ok())
            .collect();
        fields.iter().sum::<u64>()
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu();
    std::thread::sleep(Duration::from_secs(1));
    let ticks = cpu() - before;
    assert!(t.running(), "the host should go on without keys");
    // A spinning loop would take most of a second of CPU (100 ticks); an idle one none.
    assert!(
        ticks < 30,
        "the host used {ticks} ticks of CPU in 1 s after the hangup"
    );
    // Saves still run.
    t.mark();
    save_in_place(
        &p.path("lib.py"),
        "open('runs.txt', 'a').write('run two\\n')\n",
    );
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(p.path("runs.txt"))
        .unwrap_or_default()
        .contains("run two")
    {
        if Instant::now() >= deadline {
            t.fail("a save after the hangup did not run");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Hangs up the host's terminal, as closing a terminal window does.
fn hang_up(t: &Pty) {
    let slave = t.slave.as_ref().expect("slave open");
    // SAFETY: vhangup of the pty we own (the test runs as root).
    let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCVHANGUP as _, 0) };
    assert_eq!(r, 0, "TIOCVHANGUP: {}", std::io::Error::last_os_error());
}

#[test]
fn repl_a_rejected_config_edit_changes_nothing_in_the_interpreter() {
    let p = Project::new();
    p.write("lib.py", "N = 1\n");
    p.write("hotload.toml", "target = \"lib.py\"\nargs = [\"first\"]\n");
    let mut t = Pty::start(&p, &["--repl"]);
    t.expect(">>> ");
    t.mark();
    save_in_place(
        &p.path("hotload.toml"),
        "target = \"lib.py\"\nargs = [\"second\"]\nwatch = [\"nope\"]\n",
    );
    t.expect_clean("config not applied, keeping the previous one");
    t.expect(">>> ");
    t.send(b"import sys; print('argv=%r' % (sys.argv[1:],))\r");
    t.expect_clean("argv=['first']\r\n");
    t.expect(">>> ");
    t.send(b"exit()\r");
    assert_eq!(t.wait_exit().code(), Some(0), "{}", t.transcript());
}
