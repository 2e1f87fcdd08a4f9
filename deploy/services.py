"""What `make run` starts, in order: each service's entrypoints (`serve`) and, for
event-sourced services, their relay and projections (`jobs`); the gateway last, once
its backends listen."""
SERVICES = [
    ("registry", "serve", "services.registry.service:RegistryService"),
    ("registry-jobs", "jobs", "services.registry.service:RegistryService"),
    ("training", "serve", "services.training.service:TrainingService"),
    ("training-jobs", "jobs", "services.training.service:TrainingService"),
    ("deployment", "serve", "services.deployment.service:DeploymentService"),
    ("deployment-jobs", "jobs", "services.deployment.service:DeploymentService"),
    ("reporting", "serve", "services.reporting.service:ReportingService"),
    ("reporting-jobs", "jobs", "services.reporting.service:ReportingService"),
    ("hotline", "serve", "services.hotline.service:HotlineService"),
    ("hotline-jobs", "jobs", "services.hotline.service:HotlineService"),
    ("gateway", "serve", "gateway.service:GatewayService"),
]
