use std::process::ExitCode;

use clap::Parser;
use helpline::{Application, Settings, telemetry};

fn main() -> ExitCode {
    let settings = Settings::parse();
    telemetry::init(settings.log_format);
    let result = actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        Ok::<_, helpline::StartupError>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}
