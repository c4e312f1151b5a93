"""OpenAPI description of the token authentication (loaded by TenancyConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "gait_<key id>_<secret>",
                "description": "An organisation API token (POST /api/v1/tokens/ shows it once)."}
