//! The command line, on clap's derive API: one subcommand per scenario with
//! the flags it reads, each with its line of `--help`. clap refuses an
//! unknown flag or a bad value with its message and exit code 2. The
//! flags keep the names and defaults of the hand-written parser they
//! replace: the scripts in load-tests/ and CI's smoke run call them.

use std::net::SocketAddr;

use clap::{Args as Group, Parser, Subcommand};

use crate::drive::Target;
use crate::pace::Rate;
use crate::plot::Mark;
use crate::scenarios::Args;

#[derive(Parser, Debug)]
#[command(
    name = "lottery-load",
    version,
    about = "Load scenarios for the lottery backend, each checked against the server's state afterwards (loopback targets only; every phase bounded in time)",
    after_help = "`lottery-load <scenario> --help` lists a scenario's flags. Scenarios and scripts: load-tests/README.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// GET /healthz as fast as possible, or at --rate: the baseline
    Healthz {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        phase: Phase,
        #[command(flatten)]
        pace: Pace,
        #[command(flatten)]
        output: Output,
    },
    /// --users fresh users each join one event once (closed-loop, or at --rate)
    HotJoin {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        phase: Phase,
        #[command(flatten)]
        pace: Pace,
        #[command(flatten)]
        people: People,
        #[command(flatten)]
        rules: JoinRule,
        /// Write the acknowledged joins to FILE (for verify-joins after a crash) instead of verifying
        #[arg(long, value_name = "FILE")]
        record: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// healthz, then hot-join on the same connections; prints their ratio
    Ratio {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        phase: Phase,
        #[command(flatten)]
        people: People,
        #[command(flatten)]
        rules: JoinRule,
        /// Write an SVG of requests/s and p99 per second of both phases
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// healthz, hot-join alone, hot-join while photos are uploaded, then images and share codes served
    Media {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        phase: Phase,
        #[command(flatten)]
        people: People,
        /// Users uploading phone-sized photos during the second hot-join (0: none, media.sh's control run)
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=64))]
        uploaders: u64,
        /// Photos a second all uploaders together send (0: without pause)
        #[arg(long, default_value_t = 0.0, value_name = "PER_SECOND", value_parser = photos_per_second)]
        upload_rate: f64,
        #[command(flatten)]
        output: Output,
    },
    /// browse 60 %, join 25 %, leave 10 %, list 5 % over --events events (closed-loop, or at --rate)
    Mixed {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        phase: Phase,
        #[command(flatten)]
        pace: Pace,
        #[command(flatten)]
        people: People,
        /// Events the traffic spreads over
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        events: u64,
        #[command(flatten)]
        output: Output,
    },
    /// open, join (notify), reopen by --users fresh users; views across the draw; results and winners read
    ShareStorm {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        /// Seconds for the result phase (at least 30)
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        #[command(flatten)]
        people: People,
        /// Seconds from the logins to the draw (at least 2)
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=600))]
        lead: u64,
        #[command(flatten)]
        prizes: Prizes,
        /// Write an SVG of the phases per second across the draw
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// --events events all due at the same second, --per-event participants each
    DrawStorm {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        /// Draw polling lasts at most 4 × max(this, 30) seconds
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        /// Events due at the same second
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        events: u64,
        /// Participants of each event
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        per_event: u64,
        /// Seconds from now to the due second (creations and joins must fit)
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
        lead: u64,
        #[command(flatten)]
        output: Output,
    },
    /// one manual event with --users participants, then POST /draw
    BigDraw {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        people: People,
        #[command(flatten)]
        prizes: Prizes,
        #[command(flatten)]
        output: Output,
    },
    /// --users participants asking for notice, POST /draw, then the outbox drained into the WeChat mock
    Notices {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        people: People,
        #[command(flatten)]
        drain: Drain,
        #[command(flatten)]
        prizes: Prizes,
        #[command(flatten)]
        output: Output,
    },
    /// one event joined by --users users (bulk sessions) with notice, views during the joins, the draw, every result, /fairness, the notices drained: all verified
    Million {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        people: People,
        #[command(flatten)]
        drain: Drain,
        #[command(flatten)]
        prizes: Prizes,
        /// all; joins (stop after the joins, writing --state); draw (go on from --state, after a restart)
        #[arg(long, default_value = "all", value_parser = ["all", "joins", "draw"])]
        stage: String,
        /// Where --stage joins writes the run and --stage draw reads it
        #[arg(long, value_name = "FILE")]
        state: Option<String>,
        /// Views of the live page during the joins (a fixed rate)
        #[arg(long, default_value = "100/s", value_name = "N/s")]
        view_rate: Rate,
        #[command(flatten)]
        output: Output,
    },
    /// hot-join and share traffic through a cluster's balancer while cluster.sh injects a fault
    Cluster {
        #[command(flatten)]
        server: Server,
        #[command(flatten)]
        generator: Generator,
        #[command(flatten)]
        phase: Phase,
        #[command(flatten)]
        people: People,
        /// Events the traffic spreads over (at least 2; the first capped at a quarter of --users)
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
        events: u64,
        /// Seconds from the start to the two due events' draw (0: none)
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=600))]
        lead: u64,
        /// Also write the acknowledged joins to FILE
        #[arg(long, value_name = "FILE")]
        record: Option<String>,
        /// Write an SVG of requests/s, p99 and failures per second
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<String>,
        /// A labelled line on the plot, SECONDS after the traffic began (repeatable): 8=SIGKILL
        #[arg(long, value_name = "SECONDS=LABEL")]
        mark: Vec<Mark>,
        #[command(flatten)]
        output: Output,
    },
    /// after a crash: every join recorded by `hot-join --record` is stored
    VerifyJoins {
        #[command(flatten)]
        server: Server,
        /// The file `hot-join --record` wrote
        #[arg(long, value_name = "FILE", required = true)]
        record: String,
        #[command(flatten)]
        output: Output,
    },
    /// not a scenario: a local WeChat server API (dev:<name> codes, every message accepted and counted; GET /stats)
    WechatMock {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:18390")]
        listen: String,
    },
    /// not a scenario: a local drand relay over a chain it makes
    BeaconStandin {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:18391")]
        listen: String,
        /// Seconds between rounds
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        period: u32,
    },
}

/// Where a server's notices go and how fast it sends them.
#[derive(Group, Debug)]
pub struct Drain {
    /// The server's LOTTERY_NOTIFY_RATE (messages a second), to compare the drain with: not a load rate
    #[arg(long, default_value = "200", value_name = "N/s")]
    rate: Rate,
    /// URL of `lottery-load wechat-mock` (loopback only)
    #[arg(long, value_name = "URL", value_parser = loopback_url, required = true)]
    wechat: String,
    /// Messages that may arrive twice: when the server is killed during the drain, the sends it had in flight (the notifier's 16) may be repeated; 0 otherwise
    #[arg(long, default_value = "0", value_name = "N")]
    repeats_allowed: u64,
}

/// The server under load.
#[derive(Group, Debug)]
pub struct Server {
    /// The server's base URL (loopback only)
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080", value_parser = base_url)]
    base: Base,
}

/// A loopback base URL and the address the timed phases connect to,
/// resolved once.
#[derive(Clone, Debug)]
pub struct Base {
    url: String,
    addr: SocketAddr,
}

#[derive(Group, Debug)]
pub struct Generator {
    /// Connections (one worker each) of the timed phases
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    concurrency: u64,
    /// Generator threads, each a single-threaded runtime with its share of the connections (like wrk -t)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: u64,
}

#[derive(Group, Debug)]
pub struct Phase {
    /// Seconds the timed phase lasts at most
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
}

#[derive(Group, Debug)]
pub struct Pace {
    /// Open loop at a fixed arrival rate (N/s or N): requests due at t0 + i/N, latency from the due time when sent late (coordinated omission corrected, as wrk2)
    #[arg(long, value_name = "N/s")]
    rate: Option<Rate>,
}

#[derive(Group, Debug)]
pub struct People {
    /// Fresh dev users logged in before the timed phase (not timed)
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    users: u64,
}

#[derive(Group, Debug)]
pub struct Prizes {
    /// Prize slots of the event (1 to 100,000)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    prizes: u32,
}

#[derive(Group, Debug)]
pub struct JoinRule {
    /// The hot event's join rule (risk needs the server on wechat-mock)
    #[arg(long, default_value = "none", value_parser = ["password", "group", "risk", "none"])]
    rules: String,
    /// The app id group proofs are made for: the server's LOTTERY_WECHAT_APPID
    #[arg(long, default_value = lottery::wechat::open_data::DEV_APPID)]
    appid: String,
}

#[derive(Group, Debug)]
pub struct Output {
    /// Print the final report as one JSON object on stdout (the human lines go to stderr)
    #[arg(long)]
    pub json: bool,
}

fn loopback_url(url: &str) -> Result<String, String> {
    let host = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs")?
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => name,
        _ => host,
    };
    if name == "localhost" || name.starts_with("127.") || name == "[::1]" {
        Ok(url.trim_end_matches('/').to_string())
    } else {
        Err(format!("refusing {url}: only loopback targets are allowed"))
    }
}

fn base_url(url: &str) -> Result<Base, String> {
    let url = loopback_url(url)?;
    let authority = url
        .trim_start_matches("http://")
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.ends_with(']'))
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .map_err(|e| format!("{url}: {e}"))?
        .find(|a| a.ip().is_loopback())
        .ok_or(format!("{url} names no loopback address"))?;
    Ok(Base { url, addr })
}

fn photos_per_second(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or("a number of photos a second, 0 or more".into())
}

/// What a scenario run is given, with the flags it has no say over at
/// their defaults.
fn args(server: &Server, generator: &Generator) -> Args {
    Args {
        base: server.base.url.clone(),
        target: Target {
            addr: server.base.addr,
            threads: generator.threads as usize,
        },
        concurrency: generator.concurrency as usize,
        users: 10_000,
        seconds: 10,
        pace: None,
        events: 1000,
        per_event: 3,
        lead: 30,
        prizes: 1000,
        record: None,
        plot: None,
        marks: Vec::new(),
        wechat: None,
        notify_rate: 200.0,
        repeats_allowed: 0,
        rules: None,
        appid: lottery::wechat::open_data::DEV_APPID.to_string(),
        uploaders: 2,
        upload_rate: 0.0,
        stage: "all".into(),
        state: None,
        view_rate: "100/s".parse().expect("a rate"),
    }
}

fn rule(rules: &JoinRule) -> Option<String> {
    (rules.rules != "none").then(|| rules.rules.clone())
}

/// A scenario to run: its name, what it is given, and whether the report
/// is JSON. The two stand-in servers are not scenarios (None).
pub fn scenario(command: Command) -> Option<(&'static str, Args, bool)> {
    Some(match command {
        Command::Healthz {
            server,
            generator,
            phase,
            pace,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = phase.seconds;
            a.pace = pace.rate;
            ("healthz", a, output.json)
        }
        Command::HotJoin {
            server,
            generator,
            phase,
            pace,
            people,
            rules,
            record,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = phase.seconds;
            a.pace = pace.rate;
            a.users = people.users as usize;
            a.rules = rule(&rules);
            a.appid = rules.appid;
            a.record = record;
            ("hot-join", a, output.json)
        }
        Command::Ratio {
            server,
            generator,
            phase,
            people,
            rules,
            plot,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = phase.seconds;
            a.users = people.users as usize;
            a.rules = rule(&rules);
            a.appid = rules.appid;
            a.plot = plot;
            ("ratio", a, output.json)
        }
        Command::Media {
            server,
            generator,
            phase,
            people,
            uploaders,
            upload_rate,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = phase.seconds;
            a.users = people.users as usize;
            a.uploaders = uploaders as usize;
            a.upload_rate = upload_rate;
            ("media", a, output.json)
        }
        Command::Mixed {
            server,
            generator,
            phase,
            pace,
            people,
            events,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = phase.seconds;
            a.pace = pace.rate;
            a.users = people.users as usize;
            a.events = events as usize;
            ("mixed", a, output.json)
        }
        Command::ShareStorm {
            server,
            generator,
            seconds,
            people,
            lead,
            prizes,
            plot,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = seconds;
            a.users = people.users as usize;
            a.lead = lead;
            a.prizes = prizes.prizes;
            a.plot = plot;
            ("share-storm", a, output.json)
        }
        Command::DrawStorm {
            server,
            generator,
            seconds,
            events,
            per_event,
            lead,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = seconds;
            a.events = events as usize;
            a.per_event = per_event as usize;
            a.lead = lead;
            ("draw-storm", a, output.json)
        }
        Command::BigDraw {
            server,
            generator,
            people,
            prizes,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.users = people.users as usize;
            a.prizes = prizes.prizes;
            ("big-draw", a, output.json)
        }
        Command::Notices {
            server,
            generator,
            people,
            drain,
            prizes,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.users = people.users as usize;
            a.notify_rate = drain.rate.per_second();
            a.repeats_allowed = drain.repeats_allowed;
            a.wechat = Some(drain.wechat);
            a.prizes = prizes.prizes;
            ("notices", a, output.json)
        }
        Command::Million {
            server,
            generator,
            people,
            drain,
            prizes,
            stage,
            state,
            view_rate,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.users = people.users as usize;
            a.notify_rate = drain.rate.per_second();
            a.repeats_allowed = drain.repeats_allowed;
            a.wechat = Some(drain.wechat);
            a.prizes = prizes.prizes;
            a.stage = stage;
            a.state = state;
            a.view_rate = view_rate;
            ("million", a, output.json)
        }
        Command::Cluster {
            server,
            generator,
            phase,
            people,
            events,
            lead,
            record,
            plot,
            mark,
            output,
        } => {
            let mut a = args(&server, &generator);
            a.seconds = phase.seconds;
            a.users = people.users as usize;
            a.events = events as usize;
            a.lead = lead;
            a.record = record;
            a.plot = plot;
            a.marks = mark;
            ("cluster", a, output.json)
        }
        Command::VerifyJoins {
            server,
            record,
            output,
        } => {
            let generator = Generator {
                concurrency: 4,
                threads: 1,
            };
            let mut a = args(&server, &generator);
            a.record = Some(record);
            ("verify-joins", a, output.json)
        }
        Command::WechatMock { .. } | Command::BeaconStandin { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(line.split_whitespace())
    }

    fn run_args(line: &str) -> Args {
        scenario(parse(line).unwrap().command).unwrap().1
    }

    #[test]
    fn unknown_flags_and_bad_values_are_refused() {
        let kind = |line| parse(line).unwrap_err().kind();
        assert_eq!(
            kind("lottery-load healthz --bogus 1"),
            ErrorKind::UnknownArgument
        );
        // A flag another scenario has is unknown here.
        assert_eq!(
            kind("lottery-load healthz --users 5"),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind("lottery-load ratio --rate 500/s"),
            ErrorKind::UnknownArgument
        );
        assert_eq!(
            kind("lottery-load healthz --rate fast"),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind("lottery-load healthz --rate 0/s"),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind("lottery-load hot-join --seconds 601"),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind("lottery-load hot-join --rules maybe"),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind("lottery-load healthz --base http://10.0.0.1:8080"),
            ErrorKind::ValueValidation
        );
        assert_eq!(kind("lottery-load nosuch"), ErrorKind::InvalidSubcommand);
        assert_eq!(
            kind("lottery-load notices"),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind("lottery-load cluster --mark eight"),
            ErrorKind::ValueValidation
        );
        // Refusals exit 2, clap's usage error.
        assert_eq!(
            parse("lottery-load healthz --bogus 1")
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(kind("lottery-load --help"), ErrorKind::DisplayHelp);
        assert_eq!(
            kind("lottery-load share-storm --help"),
            ErrorKind::DisplayHelp
        );
    }

    #[test]
    fn a_rate_is_read_as_n_per_second_or_n() {
        let a = run_args(
            "lottery-load hot-join --rate 500/s --users 300 --base http://127.0.0.1:18300",
        );
        assert_eq!(a.pace.map(Rate::per_second), Some(500.0));
        assert_eq!(a.users, 300);
        assert_eq!(a.target.addr.to_string(), "127.0.0.1:18300");
        let a = run_args("lottery-load healthz --rate 1500");
        assert_eq!(a.pace.map(Rate::per_second), Some(1500.0));
        assert_eq!(run_args("lottery-load healthz").pace, None);
    }

    /// Every invocation the scripts make (load-tests/*.sh, cluster.sh,
    /// CI's smoke run) still parses, with its values.
    #[test]
    fn the_scripts_invocations_parse() {
        let b = "--base http://127.0.0.1:18300";
        for line in [
            "hot-join --users 300 --concurrency 16 --seconds 30",
            "mixed --users 200 --events 5 --concurrency 16 --seconds 3",
            "share-storm --users 300 --concurrency 16 --lead 6 --prizes 20 --seconds 10",
            "big-draw --users 400 --concurrency 16",
            "media --users 200 --concurrency 8 --seconds 2 --uploaders 1",
            "media --concurrency 64 --users 250000 --seconds 10 --uploaders 0 --upload-rate 0",
            "draw-storm --events 50 --per-event 3 --lead 6 --concurrency 16 --seconds 10",
            "hot-join --users 200 --concurrency 16 --seconds 30 --record /tmp/r",
            "verify-joins --record /tmp/r",
            "notices --users 300 --rate 500 --prizes 20 --concurrency 16 --wechat http://127.0.0.1:18390",
            "ratio --concurrency 64 --users 100000 --seconds 10 --plot x.svg",
            "ratio --rules group --appid wx_load --concurrency 64 --users 1000 --seconds 10",
            "healthz --concurrency 128 --threads 2 --seconds 5",
            "share-storm --users 40000 --lead 30 --concurrency 128",
            "cluster --users 400 --concurrency 16 --events 6 --seconds 20 --lead 6 --record /tmp/a",
        ] {
            let full = format!("lottery-load {line} {b}");
            assert!(parse(&full).is_ok(), "{full}: {}", parse(&full).unwrap_err());
        }
        let a = run_args(&format!(
            "lottery-load notices --users 300 --rate 500 --wechat http://127.0.0.1:18390 {b}"
        ));
        assert_eq!(a.notify_rate, 500.0);
        assert_eq!(a.wechat.as_deref(), Some("http://127.0.0.1:18390"));
        // media.sh's control run: no uploader (the old parser made it 1).
        let a = run_args("lottery-load media --uploaders 0 --upload-rate 0");
        assert_eq!(a.uploaders, 0);
        assert!(parse("lottery-load wechat-mock --listen 127.0.0.1:18390").is_ok());
        assert!(parse("lottery-load beacon-standin --listen 127.0.0.1:18391 --period 3").is_ok());
    }
}
