"""A Lambda authorizer: `Bearer allow` is allowed (principal `user-1`, with context), anything else denied.

As a REST TOKEN authorizer it answers with a policy; as an HTTP API authorizer (payload 2.0) in the simple
format."""


def lambda_handler(event, context):
    if event.get("version") == "2.0":
        allowed = event["identitySource"] == ["Bearer allow"]
        return {"isAuthorized": allowed, "context": {"tier": "gold", "level": 3}}
    token = event["authorizationToken"]
    effect = "Allow" if token == "Bearer allow" else "Deny"
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"tier": "gold", "level": 3, "trusted": True},
    }
