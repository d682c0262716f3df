"""Endpoints for hyper-parameter search jobs (admins): submit, list, read, and train the best trial."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAdminRole
from api.serializers import ErrorSerializer
from ml.search import OBJECTIVES

from .apis import TrainingJobSerializer
from .models import JobType, TrainingJob
from .search import MAX_SEARCH_TRIALS, MAX_SEARCH_WORKERS, SEARCH_KINDS, search_job_submit, search_train_best
from .selectors import job_queue_positions, jobs_recent


class SearchJobCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(SEARCH_KINDS), default=SEARCH_KINDS[0])
    objective = serializers.ChoiceField(choices=list(OBJECTIVES), default="kappa",
                                        help_text="Patient-level CV video quadratic kappa or weighted F1.")
    trials = serializers.IntegerField(min_value=1, max_value=MAX_SEARCH_TRIALS, default=20,
                                      help_text="Finished (complete or pruned) trials of the whole study.")
    max_time_s = serializers.FloatField(required=False, allow_null=True, default=None,
                                        help_text="Wall-time budget from the job's start (null: none).")
    workers = serializers.IntegerField(min_value=1, max_value=MAX_SEARCH_WORKERS, default=1,
                                       help_text="Worker tasks sharing the study (each runs trials).")
    folds = serializers.IntegerField(min_value=2, default=5)
    seed = serializers.IntegerField(min_value=0, default=0)
    space = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True, default=None,
                                  allow_empty=True, help_text="Override of the kind's space: "
                                  "[{name, type, low, high, log, step, choices, when}] (null: the default space).")
    parameters = serializers.DictField(required=False, default=dict, help_text="The base training configuration.")
    data_selection = serializers.DictField(required=False, default=dict)


class SearchJobListApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses=TrainingJobSerializer(many=True))
    def get(self, request: Request) -> Response:
        jobs = jobs_recent(job_type=JobType.SEARCH)
        context = {"queue_positions": job_queue_positions(jobs)}
        return Response(TrainingJobSerializer(jobs, many=True, context=context).data)

    @extend_schema(request=SearchJobCreateSerializer, responses={201: TrainingJobSerializer, 400: ErrorSerializer})
    def post(self, request: Request) -> Response:
        data = SearchJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = search_job_submit(**data.validated_data, created_by=request.user)
        return Response(TrainingJobSerializer(job).data, status=status.HTTP_201_CREATED)


class SearchJobDetailApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: TrainingJobSerializer, 404: ErrorSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(TrainingJob, pk=job_id, job_type=JobType.SEARCH)
        return Response(TrainingJobSerializer(job).data)


class SearchJobTrainBestApi(APIView):
    """Train the best trial's configuration on the search's data: an ordinary training job."""

    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={201: TrainingJobSerializer, 404: ErrorSerializer,
                                            409: ErrorSerializer, 400: ErrorSerializer})
    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(TrainingJob, pk=job_id, job_type=JobType.SEARCH)
        training = search_train_best(job=job, created_by=request.user)
        return Response(TrainingJobSerializer(training).data, status=status.HTTP_201_CREATED)
