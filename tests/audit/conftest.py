from tests.web.conftest import web  # noqa: F401 - the full web service fixture
