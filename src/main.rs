use std::process::ExitCode;

use clap::Parser;
use hallcall::cli::Args;
use hallcall::startup::Application;

/// mimalloc, not glibc's malloc: a request allocates and frees many small
/// buffers across threads, where glibc's arenas spent an eighth of the
/// server's time. The load tool and its baselines use it too, so the
/// side-by-side figures compare code, not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.hash_password {
        return hash_password();
    }
    hallcall::telemetry::init(std::io::stderr);
    let config = match hallcall::config::load(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("hallcall: the configuration is not valid:\n{errors}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        for h in &config.halls {
            println!(
                "{} {} ({}): {} zones, {} windows, time zone {}",
                h.spec.id,
                h.spec.name,
                h.spec.name_en,
                h.spec.zones.len(),
                h.spec.windows.len(),
                h.spec.time_zone_name
            );
            if !h.directory_groups.is_empty() {
                println!("  {} directory groups mapped to roles", h.directory_groups.len());
            }
        }
        // The files a directory names are read now, as at start.
        if let Some(d) = &config.directory {
            if let Err(e) = hallcall::auth::directory::Directory::new(d) {
                eprintln!("hallcall: {e}");
                return ExitCode::from(2);
            }
            println!("directory: {} (search under {})", d.url, d.user_base);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(path) = &args.export_config {
        return match hallcall::export::export(&args, &config).await {
            Ok(text) if path.as_os_str() == "-" => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Ok(text) => match std::fs::write(path, text) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hallcall: cannot write {}: {e}", path.display());
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("hallcall: cannot export the configuration: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let run = async {
        let app = Application::build(&args, &config).await?;
        app.run_until(shutdown_signal()).await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hallcall: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--hash-password`: one line from standard input to a PHC hash.
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("hallcall: cannot read the password from standard input");
        return ExitCode::from(2);
    }
    let password = line.trim_end_matches(['\r', '\n']);
    // A kiosk's settings PIN is digits only, 4 or more (the server limits
    // how often it may be tried); a password is 8 characters or more.
    let pin = password.len() >= 4 && password.bytes().all(|b| b.is_ascii_digit());
    if password.len() < 8 && !pin {
        eprintln!("hallcall: a password needs at least 8 characters (a kiosk PIN: at least 4 digits)");
        return ExitCode::from(2);
    }
    match hallcall::auth::hash_password(password) {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hallcall: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
