"""The hotline service: AMI controller, call tracking, ACD, speech, web, CLI."""
