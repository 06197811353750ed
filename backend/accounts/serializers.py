from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework import serializers


class LoginSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})


class UserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()


class MeSerializer(serializers.Serializer[Any]):
    authenticated = serializers.BooleanField()
    user = UserSerializer(allow_null=True)


class CsrfSerializer(serializers.Serializer[Any]):
    csrf_token = serializers.CharField()


def me(user: AbstractBaseUser | AnonymousUser) -> dict[str, Any]:
    if not user.is_authenticated:
        return {"authenticated": False, "user": None}
    return {"authenticated": True, "user": {"id": user.pk, "username": user.get_username()}}
