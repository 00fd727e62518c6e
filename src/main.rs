use clap::Parser;
use helpline::{Application, Settings, telemetry};

#[actix_web::main]
async fn main() -> Result<(), helpline::StartupError> {
    let settings = Settings::parse();
    telemetry::init(settings.log_format);
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    Ok(())
}
