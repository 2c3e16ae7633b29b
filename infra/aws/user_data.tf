# The boot script. Only variables go in, so tests/static/test_user_data.py
# renders this very file, with variables.tf, using the real tofu.
locals {
  user_data = templatefile("${path.module}/templates/user_data.sh.tftpl", {
    repository_url                   = var.repository_url
    repository_ref                   = var.repository_ref
    aws_region                       = var.aws_region
    telegram_chat_id                 = var.telegram_chat_id == null ? "" : var.telegram_chat_id
    swap_size_gib                    = var.swap_size_gib
    parameter_grafana_admin_password = var.secret_parameters.grafana_admin_password
    parameter_telegram_bot_token     = var.secret_parameters.telegram_bot_token
    parameter_db_root_password       = var.secret_parameters.db_root_password
    parameter_db_app_password        = var.secret_parameters.db_app_password
    parameter_db_monitor_password    = var.secret_parameters.db_monitor_password
  })
}
