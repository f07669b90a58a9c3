"""An HTTP API whose JWT authorizer trusts either an identity provider given as a parameter or, when none is
given, a Cognito user pool of the template's own, chosen with a Condition (`Fn::If`): the local cloud creates
no user pool (moto cannot from a template) and is the issuer itself, of whichever issuer the condition picks,
the user pool's URL (`Fn::Sub` of its id) and its app client as the audience, or the parameter's."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from localcloud.routes import routes_of
from localcloud.stack import Stack
from localcloud.template import load_template, parameter_values
from localcloud.tokens import SigningKey, TokenIssuer
from localcloud.translate import data_resources_template, translate

if TYPE_CHECKING:
    from pathlib import Path

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  JwtIssuer: {Type: String, Default: ""}
  JwtAudience: {Type: String, Default: ""}
Conditions:
  HasItsOwnUserPool: !Equals [!Ref JwtIssuer, ""]
Resources:
  UserPool:
    Type: AWS::Cognito::UserPool
    Condition: HasItsOwnUserPool
  UserPoolClient:
    Type: AWS::Cognito::UserPoolClient
    Condition: HasItsOwnUserPool
    Properties: {UserPoolId: !Ref UserPool}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !If
                - HasItsOwnUserPool
                - !Sub https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}
                - !Ref JwtIssuer
              audience:
                - !If [HasItsOwnUserPool, !Ref UserPoolClient, !Ref JwtAudience]
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: hello
      Events:
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /hello, Method: GET}
"""


def stack_for(tmp_path: Path, **overrides: str) -> Stack:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(TEMPLATE))
    (tmp_path / "hello").mkdir(exist_ok=True)
    template = load_template(path)
    parameters = parameter_values(template, path, overrides, region="eu-west-1")
    return Stack(translate(template, parameters, tmp_path), parameters, "eu-west-1")


def test_without_an_issuer_the_local_cloud_issues_the_user_pools_tokens(tmp_path):
    stack = stack_for(tmp_path)
    (route,) = routes_of(stack)
    assert route.authorizer is not None
    assert route.authorizer.issuers == ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_UserPool",)
    assert route.authorizer.audiences == ("local-UserPoolClient",)
    # moto is not asked to create the user pool, nor anything that names it
    created = data_resources_template(stack.translation.cfn, stack.resolver.parameters)["Resources"]
    assert not [name for name in created if name.startswith("UserPool")]
    # a token the local issuer mints for that issuer and audience is one the gateway accepts
    issuer = TokenIssuer(SigningKey.load_or_create(None))
    token = issuer.mint("alice", route.authorizer.issuers[0], route.authorizer.audiences[0])
    claims = issuer.verify(token, route.authorizer.issuers, route.authorizer.audiences)
    assert claims["sub"] == "alice"


@pytest.mark.parametrize(
    "issuer", ["https://idp.example.com/", "https://cognito-idp.eu-west-1.amazonaws.com/x"]
)
def test_with_an_issuer_given_the_local_cloud_issues_its_tokens_instead(tmp_path, issuer):
    stack = stack_for(tmp_path, JwtIssuer=issuer, JwtAudience="client-1")
    (route,) = routes_of(stack)
    assert route.authorizer is not None
    assert (route.authorizer.issuers, route.authorizer.audiences) == ((issuer,), ("client-1",))
    assert "UserPool" not in stack.resources
