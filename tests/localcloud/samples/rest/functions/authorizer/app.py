"""A TOKEN authorizer: `Bearer allow` is allowed (principal `user-1`, with context), anything else denied."""


def lambda_handler(event, context):
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
