"""PUT /items/{id}: a conditional write to the global table (409 if the item exists, in any region), its
secret sealed with the multi-Region key, and a message on the region's queue; GET /items/{id}: the item read
strongly consistent, its secret opened with this region's key."""

import base64
import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
kms = boto3.client("kms")
sqs = boto3.client("sqs")


def lambda_handler(event, context):
    item_id = event["pathParameters"]["id"]
    if event["requestContext"]["http"]["method"] == "GET":
        found = dynamodb.get_item(
            TableName=os.environ["ITEMS_TABLE"], Key={"pk": {"S": item_id}}, ConsistentRead=True
        ).get("Item")
        if found is None:
            return {"statusCode": 404, "body": json.dumps({"message": "no such item"})}
        secret = kms.decrypt(CiphertextBlob=base64.b64decode(found["sealed"]["S"]))["Plaintext"]
        return {"id": item_id, "secret": secret.decode(), "region": os.environ["AWS_REGION"]}
    sealed = kms.encrypt(KeyId=os.environ["KEY_ID"], Plaintext=(event.get("body") or "").encode())
    try:
        dynamodb.put_item(
            TableName=os.environ["ITEMS_TABLE"],
            Item={
                "pk": {"S": item_id},
                "sealed": {"S": base64.b64encode(sealed["CiphertextBlob"]).decode()},
                "region": {"S": os.environ["AWS_REGION"]},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return {"statusCode": 409, "body": json.dumps({"message": "exists"})}
    sqs.send_message(QueueUrl=os.environ["WORK_QUEUE"], MessageBody=item_id)
    return {"statusCode": 201, "body": json.dumps({"id": item_id})}
