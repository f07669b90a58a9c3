"""Each record of this region's replica stream, noted in the region's own table by its sequence number."""

import os

import boto3

dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    for record in event["Records"]:
        dynamodb.put_item(
            TableName=os.environ["SEEN_TABLE"],
            Item={
                "pk": {"S": record["dynamodb"]["SequenceNumber"]},
                "item": {"S": record["dynamodb"]["Keys"]["pk"]["S"]},
                "event": {"S": record["eventName"]},
            },
        )
